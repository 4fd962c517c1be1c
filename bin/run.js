#!/usr/bin/env node
// Entry point of the `fraiseql-observers` CLI (oclif). Commands are compiled to dist/src/cli/commands.
require('@oclif/core')
  .execute({ dir: __dirname })
  .catch((err) => {
    // eslint-disable-next-line no-console
    console.error(err);
    process.exit(1);
  });

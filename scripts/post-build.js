#!/usr/bin/env node
// The embedded server's launcher must be executable: @temporalio/testing spawns it directly.
const fs = require('node:fs');
const path = require('node:path');
const main = path.join(__dirname, '..', 'dist', 'src', 'embedded-temporal', 'main.js');
if (fs.existsSync(main)) fs.chmodSync(main, 0o755);

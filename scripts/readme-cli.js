#!/usr/bin/env node
// Prints the README's CLI table from the built commands (their summaries, arguments and required
// flags), so the table cannot drift from the code. `--write` replaces the table between the
// `<!-- cli-table:start -->` / `<!-- cli-table:end -->` markers of README.md; `--check` exits 1
// when README.md differs from what the commands say. Run after `npm run build`.
const fs = require('node:fs');
const path = require('node:path');
const { Config } = require('@oclif/core');

const ROOT = path.join(__dirname, '..');
const START = '<!-- cli-table:start -->';
const END = '<!-- cli-table:end -->';

function usage(c) {
  const parts = [c.id.split(':').join(' ')];
  for (const [name, a] of Object.entries(c.args ?? {})) parts.push(a.required ? name.toUpperCase() : `[${name.toUpperCase()}]`);
  for (const [name, f] of Object.entries(c.flags ?? {})) {
    if (f.required) parts.push(`--${name}${f.type === 'option' ? ` ${name.toUpperCase().replace(/-/g, '_')}` : ''}`);
  }
  return parts.join(' ');
}

async function main() {
  const config = await Config.load({ root: ROOT });
  const rows = [...config.commands]
    .filter((c) => !c.hidden)
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((c) => `| \`fraiseql-observers ${usage(c)}\` | ${(c.summary ?? c.description ?? '').split('\n')[0].replace(/\|/g, '\\|')} |`);
  const table = ['| command | what it does |', '|---|---|', ...rows].join('\n');
  const mode = process.argv[2];
  if (!mode) return void console.log(table);
  const readmePath = path.join(ROOT, 'README.md');
  const readme = fs.readFileSync(readmePath, 'utf8');
  const i = readme.indexOf(START);
  const j = readme.indexOf(END);
  if (i < 0 || j < i) throw new Error(`README.md has no ${START} ... ${END} markers`);
  const next = `${readme.slice(0, i + START.length)}\n${table}\n${readme.slice(j)}`;
  if (mode === '--check') {
    if (next !== readme) {
      console.error('README.md CLI table is out of date: run `npm run build && node scripts/readme-cli.js --write`');
      process.exit(1);
    }
  } else if (mode === '--write') fs.writeFileSync(readmePath, next);
  else throw new Error(`unknown option ${mode} (expected --write or --check)`);
}

main().catch((err) => {
  console.error(err.message ?? err);
  process.exit(1);
});

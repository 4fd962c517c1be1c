/**
 * `npm run bench`: every benchmark of the project, one after another, each in its own process (so
 * one's memory and event loop never colour the next one's figures), each printing its own table.
 *
 *   npm run bench                       all of them with their defaults (≈ 10–15 min on 2 cores)
 *   BENCH_ONLY=listener,e2e npm run bench   a subset
 *
 * Each benchmark's own variables (BENCH_E2E_*, BENCH_WORKFLOWS, ...) pass through unchanged.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { printTable } from './table';

const BENCHES = [
  { name: 'actions', file: 'actions.js', what: 'webhook activity path: deliveries/s, 3×100 ms sequential vs parallel' },
  { name: 'listener', file: 'listener.js', what: 'change-log listener: rows/s, commit→start latency, checkpoint saves/s' },
  { name: 'temporal', file: 'temporal.js', what: 'embedded Temporal server: workflows/s with 3 parallel activities' },
  { name: 'e2e', file: 'e2e.js', what: 'whole service: events/s delivered, commit→delivery latency at fixed rates' },
  { name: 'dlq', file: 'dlq.js', what: 'dead-letter queue commands over visibility' },
] as const;

function run(file: string): Promise<{ code: number; seconds: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, file)], { stdio: 'inherit', env: process.env });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), seconds: (performance.now() - started) / 1000 }));
  });
}

async function main(): Promise<void> {
  const only = (process.env.BENCH_ONLY ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = only.filter((n) => !BENCHES.some((b) => b.name === n));
  if (unknown.length > 0) throw new Error(`BENCH_ONLY: unknown benchmark(s) ${unknown.join(', ')}; known: ${BENCHES.map((b) => b.name).join(', ')}`);
  const selected = BENCHES.filter((b) => only.length === 0 || only.includes(b.name));
  const rows: Array<[string, string, string, number]> = [];
  for (const b of selected) {
    console.log(`\n=== bench:${b.name} — ${b.what}\n`);
    const { code, seconds } = await run(b.file);
    rows.push([b.name, b.what, code === 0 ? 'ok' : `failed (exit ${code})`, Math.round(seconds)]);
  }
  console.log('\nBenchmarks run\n');
  printTable(['benchmark', 'measures', 'result', 'seconds'], rows);
  if (rows.some((r) => r[2] !== 'ok')) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});

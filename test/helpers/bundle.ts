/**
 * Workflow bundles built once per source state, shared by every test file and jest worker.
 *
 * `bundleWorkflowCode` (webpack) costs 1–3 s of CPU per call, and jest gives each test file its own
 * module registry, so a per-module cache still bundles once per file. This helper keys the bundle
 * by a hash of everything that can go into it (the workflows file's folder, `src/`, the SDK
 * version) and keeps it as a file in the OS temp dir: the first file of a run bundles, every other
 * file (and the next run, if nothing changed) reads it back in milliseconds.
 *
 * Usage (any workflow-tier or e2e test):
 *
 *   import { cachedWorkflowBundle } from '../helpers/bundle';
 *   const worker = await Worker.create({ ..., workflowBundle: await cachedWorkflowBundle(require.resolve('../../src/workflows')) });
 *
 * `runWorker` / `createWorker` in temporal-env.ts already use it for test/workflow/workflows; pass
 * `workflowsPath` to them to bundle other workflow code the same way.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

const ROOT = path.resolve(__dirname, '../..');
const CACHE_DIR = path.join(os.tmpdir(), 'fraiseql-observers-workflow-bundles');

/** Files of a folder tree that can change a bundle (sources and JSON), sorted for a stable hash. */
function sourceFiles(dir: string, out: string[] = []): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir).sort();
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const full = path.join(dir, name);
    const st = statSync(full);
    if (st.isDirectory()) sourceFiles(full, out);
    else if (/\.(ts|js|mjs|cjs|json)$/.test(name)) out.push(full);
  }
  return out;
}

/**
 * The cache key of a bundle: the workflows path and the content of every source file its value
 * imports can reach inside this repository (its own folder tree and `src/`), plus the SDK's version.
 */
export function bundleKey(workflowsPath: string): string {
  const h = createHash('sha256');
  h.update(path.resolve(workflowsPath));
  h.update(readFileSync(path.join(ROOT, 'node_modules/@temporalio/workflow/package.json')));
  // Workflow code may import values only from its own folder, src/ and packages; imports of
  // activity *types* from elsewhere are erased and cannot change the bundle.
  const dirs = [path.dirname(path.resolve(workflowsPath)), path.join(ROOT, 'src')];
  const seen = new Set<string>();
  for (const dir of dirs) {
    for (const file of sourceFiles(dir)) {
      if (seen.has(file)) continue;
      seen.add(file);
      h.update(file);
      h.update(readFileSync(file));
    }
  }
  return h.digest('hex').slice(0, 24);
}

const quiet = (): void => undefined;
const bundlerLogger = { trace: quiet, debug: quiet, info: quiet, warn: quiet, error: (...args: unknown[]) => console.error(...args), log: quiet };

const inProcess = new Map<string, Promise<{ code: string }>>();
const keys = new Map<string, string>();

/**
 * The bundle of the workflows at `workflowsPath`, as `{ code }` for `Worker.create({ workflowBundle })`.
 * Built at most once per source state; concurrent jest workers may both build on a cold cache, and
 * the atomic rename makes either result the one that stays (they are identical).
 */
export async function cachedWorkflowBundle(workflowsPath: string): Promise<{ code: string }> {
  // Sources do not change during a test file, so hash them once per file (module registry) and path.
  let key = keys.get(workflowsPath);
  if (key === undefined) {
    key = bundleKey(workflowsPath);
    keys.set(workflowsPath, key);
  }
  let pending = inProcess.get(key);
  if (!pending) {
    pending = loadOrBuild(workflowsPath, key);
    inProcess.set(key, pending);
    pending.catch(() => inProcess.delete(key));
  }
  return await pending;
}

async function loadOrBuild(workflowsPath: string, key: string): Promise<{ code: string }> {
  const file = path.join(CACHE_DIR, `${key}.js`);
  if (existsSync(file)) return { code: readFileSync(file, 'utf8') };
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: bundlerLogger });
  mkdirSync(CACHE_DIR, { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, code);
  renameSync(tmp, file);
  return { code };
}

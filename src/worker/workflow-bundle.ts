/**
 * The workflow bundle `start` uses: the one `npm run build` made (dist/workflow-bundle.js, see
 * scripts/bundle-workflows.js) when it is at least as new as every compiled file it could contain,
 * else a fresh bundle (running from the TypeScript sources, or after a bare `tsc`).
 *
 * There are two: the default one preloads src/workflows/no-stack-traces (workflow code captures no
 * stack traces, see there) and the workflows module itself (loaded once per workflow thread rather
 * than once per workflow); WORKER_WORKFLOW_STACK_TRACES=true selects the one that keeps them.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { WorkflowBundlePath } from '@temporalio/worker';

/** Where the build puts the bundle, relative to this compiled module (dist/src/worker → dist). */
export const PREBUILT_BUNDLE = path.resolve(__dirname, '..', '..', 'workflow-bundle.js');
/** The bundle with workflow stack traces kept (WORKER_WORKFLOW_STACK_TRACES=true). */
export const PREBUILT_BUNDLE_WITH_STACKS = path.resolve(__dirname, '..', '..', 'workflow-bundle-stacks.js');

/** What to bundle: the workflows, and the modules loaded once into each reusable workflow context. */
export function workflowBundleOptions(stackTraces: boolean): { workflowsPath: string; preloadModules: string[] } {
  const workflowsPath = require.resolve('../workflows');
  return {
    workflowsPath,
    preloadModules: stackTraces ? [workflowsPath] : [require.resolve('../workflows/no-stack-traces'), workflowsPath],
  };
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(full));
    else if (entry.name.endsWith('.js')) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

/**
 * The prebuilt bundle as a `workflowBundle` option, or null when there is none or it is older than
 * the compiled code next to it (the workflows import a few modules outside src/workflows, so the
 * whole compiled tree is compared).
 */
export function prebuiltWorkflowBundle(bundlePath: string = PREBUILT_BUNDLE): WorkflowBundlePath | null {
  let bundleTime: number;
  try {
    bundleTime = statSync(bundlePath).mtimeMs;
  } catch {
    return null;
  }
  const compiled = path.join(path.dirname(bundlePath), 'src');
  try {
    if (newestMtime(compiled) > bundleTime) return null;
  } catch {
    return null;
  }
  return { codePath: bundlePath };
}

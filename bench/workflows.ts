// Workflows driven by the benchmarks (bundled by the SDK; no I/O here).
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type * as activities from './activities';

const { noop } = proxyActivities<typeof activities>({ startToCloseTimeout: '30s' });
const local = proxyLocalActivities<typeof activities>({ startToCloseTimeout: '30s' });

/** Three activities in parallel, as an event with three actions would run them. */
export async function threeParallel(n: number): Promise<number> {
  const r = await Promise.all([noop(n), noop(n + 1), noop(n + 2)]);
  return r.reduce((a, b) => a + b, 0);
}

/** The same three actions as local activities: run by the worker inside the workflow task, no activity tasks. */
export async function threeParallelLocal(n: number): Promise<number> {
  const r = await Promise.all([local.noop(n), local.noop(n + 1), local.noop(n + 2)]);
  return r.reduce((a, b) => a + b, 0);
}

// Workflows driven by the benchmarks (bundled by the SDK; no I/O here).
import { proxyActivities } from '@temporalio/workflow';
import type * as activities from './activities';

const { noop } = proxyActivities<typeof activities>({ startToCloseTimeout: '30s' });

/** Three activities in parallel, as an event with three actions would run them. */
export async function threeParallel(n: number): Promise<number> {
  const r = await Promise.all([noop(n), noop(n + 1), noop(n + 2)]);
  return r.reduce((a, b) => a + b, 0);
}

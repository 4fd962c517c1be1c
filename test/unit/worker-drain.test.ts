/**
 * The drain loop of a stopping service with an in-memory embedded server: it waits for the open
 * workflow count to reach zero and reports progress, and ends early only when forced, when its
 * timeout passes, or when no worker is left to finish the rest — saying how many were left.
 */
import { drainOpenWorkflows } from '../../src/worker/drain';
import { captureLogger } from '../helpers/receivers';

/** A count that goes down by one on every read, from `start`. */
function countingDown(start: number): () => Promise<number> {
  let n = start;
  return async () => {
    const now = n;
    n = Math.max(0, n - 1);
    return now;
  };
}

describe('drainOpenWorkflows', () => {
  it('waits until no workflow is open, logging the remaining count', async () => {
    const { log, lines } = captureLogger();
    const outcome = await drainOpenWorkflows({
      countOpen: countingDown(3), canProgress: () => true, timeoutMs: 0, force: new AbortController().signal, log, intervalMs: 5, progressEveryMs: 0,
    });
    expect(outcome).toMatchObject({ drained: true });
    expect(lines().filter((l) => l.msg === 'draining: waiting for open workflows').map((l) => l.open_workflows)).toEqual([3, 2, 1]);
  });

  it('keeps waiting through failed counts (giving up would drop work)', async () => {
    const { log, lines } = captureLogger();
    let calls = 0;
    const outcome = await drainOpenWorkflows({
      countOpen: async () => {
        calls += 1;
        if (calls <= 2) throw new Error('UNAVAILABLE: server busy');
        return 0;
      },
      canProgress: () => true, timeoutMs: 0, force: new AbortController().signal, log, intervalMs: 5,
    });
    expect(outcome).toMatchObject({ drained: true });
    expect(lines().filter((l) => l.msg === 'draining: cannot count open workflows; trying again')).toHaveLength(2);
  });

  it('ends at the timeout with the count left', async () => {
    const { log } = captureLogger();
    const outcome = await drainOpenWorkflows({
      countOpen: async () => 7, canProgress: () => true, timeoutMs: 60, force: new AbortController().signal, log, intervalMs: 5,
    });
    expect(outcome).toMatchObject({ drained: false, reason: 'timeout', open: 7 });
    if (!outcome.drained) expect(outcome.durationMs).toBeGreaterThanOrEqual(60);
  });

  it('ends at once when forced (a second signal), even mid-pause', async () => {
    const { log } = captureLogger();
    const force = new AbortController();
    const drain = drainOpenWorkflows({ countOpen: async () => 4, canProgress: () => true, timeoutMs: 0, force: force.signal, log, intervalMs: 60_000 });
    setTimeout(() => force.abort(), 20);
    await expect(drain).resolves.toMatchObject({ drained: false, reason: 'second signal', open: 4 });
  });

  it('ends when no worker could finish the rest', async () => {
    const { log } = captureLogger();
    let running = true;
    setTimeout(() => {
      running = false;
    }, 20);
    const outcome = await drainOpenWorkflows({
      countOpen: async () => 2, canProgress: () => running, timeoutMs: 0, force: new AbortController().signal, log, intervalMs: 5,
    });
    expect(outcome).toMatchObject({ drained: false, reason: 'worker stopped', open: 2 });
  });

  it('reports an unknown count as -1 when it never managed to count', async () => {
    const { log } = captureLogger();
    const outcome = await drainOpenWorkflows({
      countOpen: async () => {
        throw new Error('down');
      },
      canProgress: () => true, timeoutMs: 30, force: new AbortController().signal, log, intervalMs: 5,
    });
    expect(outcome).toMatchObject({ drained: false, reason: 'timeout', open: -1 });
  });
});

import { TaskQueues, type DispatchableTask } from '../../src/embedded-temporal/matching';

function task(id: string, log: string[], stale = false): DispatchableTask<string> {
  return { take: (who) => { if (stale) return null; log.push(`${id}->${who}`); return id; } };
}

describe('TaskQueues', () => {
  it('hands a queued task to the next poll', async () => {
    const q = new TaskQueues<string>(1000);
    const log: string[] = [];
    q.add('k', task('t1', log));
    await expect(q.poll('k', 'w1', () => false, () => undefined)).resolves.toBe('t1');
    expect(log).toEqual(['t1->w1']);
  });

  it('never hands a task to a poll whose call was cancelled', async () => {
    const q = new TaskQueues<string>(5000);
    const log: string[] = [];
    let cancelled = false;
    let onCancel: (() => void) | undefined;
    const p1 = q.poll('k', 'w1', () => cancelled, (cb) => { onCancel = cb; });
    cancelled = true; // the client went away but the cancel notification has not arrived yet
    const p2 = q.poll('k', 'w2', () => false, () => undefined);
    q.add('k', task('t1', log));
    await expect(p2).resolves.toBe('t1');
    await expect(p1).resolves.toBeNull();
    onCancel?.();
    expect(log).toEqual(['t1->w2']);
  });

  it('keeps the task queued when the only poll was cancelled', async () => {
    const q = new TaskQueues<string>(5000);
    const log: string[] = [];
    let onCancel: (() => void) | undefined;
    const p1 = q.poll('k', 'w1', () => false, (cb) => { onCancel = cb; });
    onCancel!();
    await expect(p1).resolves.toBeNull();
    q.add('k', task('t1', log));
    expect(q.backlog('k')).toBe(1);
    await expect(q.poll('k', 'w2', () => false, () => undefined)).resolves.toBe('t1');
  });

  it('drops stale tasks at dispatch time and serves the next one', async () => {
    const q = new TaskQueues<string>(1000);
    const log: string[] = [];
    q.add('k', task('old', log, true));
    q.add('k', task('fresh', log));
    await expect(q.poll('k', 'w', () => false, () => undefined)).resolves.toBe('fresh');
  });

  it('completes polls of a worker that announced shutdown, and answers its later polls at once', async () => {
    const q = new TaskQueues<string>(60_000);
    const p = q.poll('k', 'worker-a', () => false, () => undefined);
    const other = q.poll('k', 'worker-b', () => false, () => undefined);
    q.shutdownWorker('worker-a');
    await expect(p).resolves.toBeNull();
    await expect(q.poll('k', 'worker-a', () => false, () => undefined)).resolves.toBeNull();
    const log: string[] = [];
    q.add('k', task('t', log));
    await expect(other).resolves.toBe('t');
  });

  it('ends an idle poll empty after the long-poll timeout', async () => {
    const q = new TaskQueues<string>(30);
    await expect(q.poll('k', 'w', () => false, () => undefined)).resolves.toBeNull();
  });
});

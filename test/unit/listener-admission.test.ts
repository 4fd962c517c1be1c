import { backlogAdmission } from '../../src/listener/admission';

/** A fake clock whose sleep advances it, so pauses are measured without waiting. */
function fakeClock() {
  let t = 0;
  return { now: () => t, sleep: async (ms: number) => void (t += ms) };
}

describe('backlogAdmission', () => {
  it('admits at once below the limit and reuses a fresh backlog figure', async () => {
    const clock = fakeClock();
    let probes = 0;
    const a = backlogAdmission({ limit: 10, refreshMs: 100, backlog: async () => (probes++, 9), ...clock });
    await a.wait(() => false);
    await a.wait(() => false);
    expect(probes).toBe(1);
  });

  it('pauses at the limit and resumes below half of it, reporting how long it paused', async () => {
    const clock = fakeClock();
    const figures = [10, 8, 6, 5, 4];
    const events: string[] = [];
    const a = backlogAdmission({
      limit: 10,
      refreshMs: 50,
      backlog: async () => figures.shift() ?? 0,
      onPause: (b) => events.push(`pause ${b}`),
      onResume: (ms) => events.push(`resume after ${ms} ms`),
      ...clock,
    });
    await a.wait(() => false);
    // 10 pauses; 8, 6 and 5 are not below half of 10; 4 is.
    expect(events).toEqual(['pause 10', 'resume after 200 ms']);
    expect(figures).toEqual([]);
  });

  it('stops waiting when told to stop', async () => {
    const clock = fakeClock();
    let stopped = false;
    let probes = 0;
    const a = backlogAdmission({
      limit: 1,
      refreshMs: 10,
      backlog: async () => {
        probes += 1;
        if (probes === 3) stopped = true;
        return 100;
      },
      ...clock,
    });
    await a.wait(() => stopped);
    expect(probes).toBe(3);
  });

  it('never blocks on a failed probe: it admits and reports the error', async () => {
    const clock = fakeClock();
    const errors: string[] = [];
    const a = backlogAdmission({ limit: 1, backlog: async () => Promise.reject(new Error('unreachable')), onError: (e) => errors.push((e as Error).message), ...clock });
    await a.wait(() => false);
    expect(errors).toEqual(['unreachable']);
  });
});

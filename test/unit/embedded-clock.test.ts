import { ServerClock } from '../../src/embedded-temporal/clock';

const tick = () => new Promise((r) => setImmediate(r));

describe('ServerClock', () => {
  it('does not skip while locked (the lock count starts at 1)', async () => {
    const c = new ServerClock(true);
    let fired = false;
    c.after(3600_000, () => { fired = true; });
    await tick(); await tick();
    expect(fired).toBe(false);
    c.stop();
  });

  it('jumps to the next timer when unlocked and idle', async () => {
    const c = new ServerClock(true);
    const start = c.now();
    const fired: number[] = [];
    c.after(3600_000, () => fired.push(c.now()));
    c.unlock();
    await tick(); await tick();
    expect(fired).toHaveLength(1);
    expect(fired[0]! - start).toBeGreaterThanOrEqual(3600_000);
    c.stop();
  });

  it('never skips while a task is pending or running', async () => {
    const c = new ServerClock(true);
    let fired = false;
    c.markBusy(1);
    c.after(3600_000, () => { fired = true; });
    c.unlock();
    await tick(); await tick();
    expect(fired).toBe(false);
    c.markBusy(-1);
    await tick(); await tick();
    expect(fired).toBe(true);
    c.stop();
  });

  it('tolerates many concurrent unlocks (counter below zero) and skips until locked again', async () => {
    const c = new ServerClock(true);
    for (let i = 0; i < 20; i++) c.unlock();
    expect(c.locks).toBe(-19);
    const order: number[] = [];
    c.after(2000, () => order.push(2));
    c.after(1000, () => order.push(1));
    await tick(); await tick(); await tick();
    expect(order).toEqual([1, 2]);
    for (let i = 0; i < 20; i++) c.lock();
    let late = false;
    c.after(5000, () => { late = true; });
    await tick(); await tick();
    expect(late).toBe(false);
    c.stop();
  });

  it('never jumps in wall-clock mode', async () => {
    const c = new ServerClock(false);
    c.unlock();
    let fired = false;
    c.after(3600_000, () => { fired = true; });
    await tick(); await tick();
    expect(fired).toBe(false);
    c.stop();
  });

  it('cancelled timers do not fire', async () => {
    const c = new ServerClock(true);
    c.unlock();
    let fired = false;
    const h = c.after(10, () => { fired = true; });
    h.cancel();
    await new Promise((r) => setTimeout(r, 30));
    expect(fired).toBe(false);
    c.stop();
  });

  it('drops cancelled timers long before they are due, and still fires the others in order', async () => {
    const c = new ServerClock(true);
    const order: number[] = [];
    const handles = Array.from({ length: 3000 }, (_, i) => c.after(60_000 + i, () => order.push(i)));
    handles.forEach((h, i) => { if (i % 6 !== 0) h.cancel(); });
    // 2,500 cancelled: without compaction all 3,000 entries would stay until their deadline.
    expect(c.heldTimers).toBeLessThan(2000);
    c.unlock();
    for (let i = 0; i < 2000 && order.length < 500; i++) await tick();
    expect(order).toEqual(Array.from({ length: 500 }, (_, k) => k * 6));
    c.stop();
  });
});

/**
 * Task queues: long polls meet dispatchable tasks. A task is handed only to a poll whose call is
 * still open; a task that has gone stale in the meantime (its workflow task was already started,
 * its run was terminated) is dropped at dispatch time. Polls end empty after the long-poll timeout
 * or when their worker announces shutdown, and are never answered once cancelled.
 */

/** A queued unit of work. `take()` returns the poll response, or null when the task is stale. */
export interface DispatchableTask<R> {
  take(pollerIdentity: string): R | null;
}

interface Poller<R> {
  resolve(r: R | null): void;
  isCancelled(): boolean;
  workerKey: string;
  identity: string;
  done: boolean;
  timer: NodeJS.Timeout | null;
}

class Queue<R> {
  tasks: DispatchableTask<R>[] = [];
  head = 0;
  pollers: Poller<R>[] = [];

  size(): number {
    return this.tasks.length - this.head;
  }
  shift(): DispatchableTask<R> | undefined {
    if (this.head >= this.tasks.length) return undefined;
    const t = this.tasks[this.head];
    this.tasks[this.head] = undefined as unknown as DispatchableTask<R>;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.tasks.length) {
      this.tasks = this.tasks.slice(this.head);
      this.head = 0;
    }
    return t;
  }
}

/** How long a poller stays listed after its last poll (the real matching service keeps five minutes). */
export const POLLER_TTL_MS = 5 * 60_000;

/** A worker that polled a queue recently, as DescribeTaskQueue reports it. */
export interface PollerSeen {
  identity: string;
  /** wall-clock ms of its last poll */
  lastAccessTime: number;
}

export class TaskQueues<R> {
  private queues = new Map<string, Queue<R>>();
  private shutdownKeys = new Set<string>();
  /** queue key → poller identity → wall-clock ms of its last poll. */
  private seen = new Map<string, Map<string, number>>();

  constructor(private readonly pollTimeoutMs: number) {}

  private queue(key: string): Queue<R> {
    let q = this.queues.get(key);
    if (!q) {
      q = new Queue<R>();
      this.queues.set(key, q);
    }
    return q;
  }

  /** Offer a task: a waiting live poll gets it at once, otherwise it is queued. */
  add(key: string, task: DispatchableTask<R>): void {
    const q = this.queue(key);
    while (q.pollers.length > 0) {
      const p = q.pollers.shift()!;
      if (p.done) continue;
      if (p.isCancelled()) {
        this.finish(p, null);
        continue;
      }
      const r = task.take(p.identity);
      if (r === null) return; // stale: nothing to hand out
      this.finish(p, r);
      return;
    }
    q.tasks.push(task);
  }

  /**
   * Long-poll for a task. Resolves with a response, or null on timeout / worker shutdown.
   * `isCancelled` is consulted before a task is handed over.
   */
  poll(key: string, workerKey: string, isCancelled: () => boolean, onCancel: (cb: () => void) => void, identity = workerKey): Promise<R | null> {
    const q = this.queue(key);
    if (workerKey && this.shutdownKeys.has(workerKey)) return Promise.resolve(null);
    this.notePoller(key, identity || workerKey);
    for (;;) {
      const t = q.shift();
      if (!t) break;
      if (isCancelled()) {
        q.tasks.splice(q.head, 0, t); // put it back in front
        return Promise.resolve(null);
      }
      const r = t.take(identity);
      if (r !== null) return Promise.resolve(r);
    }
    return new Promise<R | null>((resolve) => {
      const p: Poller<R> = { resolve, isCancelled, workerKey, identity, done: false, timer: null };
      p.timer = setTimeout(() => this.finish(p, null), this.pollTimeoutMs);
      q.pollers.push(p);
      onCancel(() => {
        if (p.done) return;
        this.finish(p, null);
        const i = q.pollers.indexOf(p);
        if (i >= 0) q.pollers.splice(i, 1);
      });
    });
  }

  private notePoller(key: string, identity: string): void {
    let m = this.seen.get(key);
    if (!m) {
      m = new Map();
      this.seen.set(key, m);
    }
    m.delete(identity); // re-insert: the map stays ordered oldest poll first
    m.set(identity, Date.now());
    if (m.size > 1000) m.delete(m.keys().next().value!);
  }

  /**
   * Workers that polled the queue within the last `ttlMs` (newest first). The Web UI shows the
   * call stack and queries current details only when a workflow's queue has pollers.
   */
  pollers(key: string, ttlMs = POLLER_TTL_MS): PollerSeen[] {
    const m = this.seen.get(key);
    if (!m) return [];
    const cutoff = Date.now() - ttlMs;
    const out: PollerSeen[] = [];
    for (const [identity, at] of m) {
      if (at < cutoff) m.delete(identity);
      else out.push({ identity, lastAccessTime: at });
    }
    return out.reverse();
  }

  /** A worker announced shutdown: complete its outstanding polls empty; its later polls return at once. */
  shutdownWorker(workerKey: string): void {
    if (!workerKey) return;
    this.shutdownKeys.add(workerKey);
    if (this.shutdownKeys.size > 10_000) {
      const first = this.shutdownKeys.values().next().value;
      if (first !== undefined) this.shutdownKeys.delete(first);
    }
    for (const q of this.queues.values()) {
      q.pollers = q.pollers.filter((p) => {
        if (p.workerKey !== workerKey) return true;
        this.finish(p, null);
        return false;
      });
    }
  }

  /** Number of tasks waiting in a queue (a hint for poll responses and `describe`). */
  backlog(key: string): number {
    return this.queues.get(key)?.size() ?? 0;
  }

  /** End every poll (server shutdown). */
  closeAll(): void {
    for (const q of this.queues.values()) {
      for (const p of q.pollers) this.finish(p, null);
      q.pollers = [];
    }
  }

  private finish(p: Poller<R>, r: R | null): void {
    if (p.done) return;
    p.done = true;
    if (p.timer) clearTimeout(p.timer);
    p.resolve(r);
  }
}

/** The whole in-memory server state: clock, task queues and namespaces. */
import { randomUUID } from 'node:crypto';
import { ServerClock } from './clock';
import { TaskQueues } from './matching';
import { BatchJobs } from './batch';
import { Namespace, type StoreHooks } from './namespace';
import { type WorkflowRun } from './run';
import { invalidArgument, notFound, optMs } from './proto';
import { type SearchAttributeType } from './visibility-query';

export interface ServerOptions {
  /** Default namespace, created at start. */
  namespace: string;
  /** Jump the clock to the next timer when nothing runs and time skipping is unlocked. */
  timeSkipping: boolean;
  /** How long closed runs are kept (a duplicate start of a retained id is still rejected). */
  retentionMs: number;
  /** At most this many closed runs are kept per namespace; the oldest go first. */
  maxClosedRuns: number;
  /** Long polls (task queues) end empty after this long. */
  pollTimeoutMs: number;
  /** History long polls (waitNewEvent) end with a continuation token after this long. */
  historyLongPollMs: number;
  /** Custom search attributes registered at start. */
  searchAttributes: Record<string, SearchAttributeType>;
  serverVersion: string;
}

/** The durable store as the state sees it: run changes, and namespace or search-attribute changes. */
export interface ServerStoreHooks extends StoreHooks {
  namespacesChanged(): void;
}

export const DEFAULT_OPTIONS: ServerOptions = {
  namespace: 'default',
  timeSkipping: false,
  retentionMs: 24 * 3600_000,
  maxClosedRuns: 100_000,
  pollTimeoutMs: 20_000,
  historyLongPollMs: 20_000,
  searchAttributes: {},
  serverVersion: '1.24.0-embedded',
};

export class ServerState {
  readonly clock: ServerClock;
  readonly workflowQueues: TaskQueues<object>;
  readonly activityQueues: TaskQueues<object>;
  readonly clusterId = randomUUID();
  /** Batch operation jobs (StartBatchOperation), applied at once. */
  readonly batches = new BatchJobs();
  private namespaces = new Map<string, Namespace>();
  private sweeper: NodeJS.Timeout;
  private store: ServerStoreHooks | null = null;

  constructor(readonly options: ServerOptions) {
    this.clock = new ServerClock(options.timeSkipping);
    this.workflowQueues = new TaskQueues<object>(options.pollTimeoutMs);
    this.activityQueues = new TaskQueues<object>(options.pollTimeoutMs);
    const ns = this.registerNamespace(options.namespace, null);
    for (const [k, t] of Object.entries(options.searchAttributes)) ns.searchAttributes.set(k, t);
    const every = Math.min(60_000, Math.max(250, Math.floor(options.retentionMs / 10)));
    this.sweeper = setInterval(() => {
      for (const n of this.namespaces.values()) n.sweep();
    }, every);
    this.sweeper.unref();
  }

  registerNamespace(name: string, retention: unknown): Namespace {
    const existing = this.namespaces.get(name);
    if (existing) return existing;
    const n = new Namespace(
      { name, retentionMs: optMs(retention as never) ?? this.options.retentionMs, maxClosedRuns: this.options.maxClosedRuns },
      this.clock, this.workflowQueues, this.activityQueues,
    );
    // Namespaces created later share the custom attributes registered for the default one.
    const first = this.namespaces.values().next().value as Namespace | undefined;
    if (first) for (const [k, t] of first.searchAttributes) n.searchAttributes.set(k, t);
    this.namespaces.set(name, n);
    if (this.store) {
      n.hooks = this.store;
      this.store.namespacesChanged();
    }
    return n;
  }

  /** Keep this state in a durable store from now on (store/attach.ts). */
  attachStore(store: ServerStoreHooks): void {
    this.store = store;
    for (const n of this.namespaces.values()) n.hooks = store;
  }

  /** True when the state is kept in a durable store, not only in memory. */
  get durable(): boolean {
    return this.store !== null;
  }

  /** Look up a namespace by name the way every request does. */
  namespace(name: string | undefined | null): Namespace {
    if (!name) throw invalidArgument('Namespace not set on request.');
    const n = this.namespaces.get(name);
    if (!n) throw notFound(`Namespace ${name} is not found.`);
    return n;
  }

  namespaceById(id: string): Namespace {
    for (const n of this.namespaces.values()) if (n.namespaceId === id) return n;
    throw notFound(`Namespace ${id} is not found.`);
  }

  allNamespaces(): Namespace[] {
    return [...this.namespaces.values()];
  }

  deleteRun(_n: Namespace, run: WorkflowRun): void {
    run.closedAtWall = 0;
    _n.sweep();
  }

  dispose(): void {
    clearInterval(this.sweeper);
    this.clock.stop();
    this.workflowQueues.closeAll();
    this.activityQueues.closeAll();
    for (const n of this.namespaces.values()) n.disposeAll();
  }
}

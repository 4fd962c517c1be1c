/**
 * The DLQ tests' world: the embedded Temporal server (wall clock), a real worker running the real
 * `processChangeEvent` with the real action activities, two loopback receivers (a warehouse that
 * answers 200 and a billing service that answers 400 until told otherwise), and events started
 * exactly as the listener starts them (row handler + TemporalStarter).
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { InjectedSinks } from '@temporalio/worker';
import { InMemoryBreakerStore, closeActivities, createActivities, type ObserverActivities } from '../../src/activities';
import { parseConfig } from '../../src/config';
import { compileObservers } from '../../src/events/match';
import { createRowHandler } from '../../src/listener/row-handler';
import { TemporalStarter } from '../../src/listener/temporal-starter';
import { ChangeLogPosition, EntityType, EventKind, FailedActions, ObserverNames } from '../../src/temporal/search-attributes';
import type { ObserverSinks } from '../../src/workflows/sinks';
import { captureLogger, startHttpReceiver, type HttpReceiver, type RecordedRequest } from '../helpers/receivers';
import { createTestEnv, createWorker, SERVICE_WORKFLOWS, uniqueTaskQueue, type AnySearchAttributeKey } from '../helpers/temporal-env';

export interface StartedEvent {
  eventId: string;
  entityId: string;
  workflowId: string;
  runId: string;
}

export interface DlqFixture {
  env: TestWorkflowEnvironment;
  taskQueue: string;
  warehouse: HttpReceiver;
  billing: HttpReceiver;
  /** billing answers 400 (`failing`), 200 (`ok`), or holds every answer until the returned release is called (`held`). */
  setBilling(mode: 'failing' | 'ok'): void;
  holdBilling(): () => void;
  /** Starts one event the way the listener does; both observers match Order, only billing matches others. */
  startEvent(entityType: string): Promise<StartedEvent>;
  /** Requests a receiver got for one entity. */
  requestsFor(receiver: HttpReceiver, entityId: string): RecordedRequest[];
  /** processChangeEvent runs on this fixture's task queue (any status). */
  countRuns(): Promise<number>;
  teardown(): Promise<void>;
}

const ALL_SEARCH_ATTRIBUTES = [EntityType, EventKind, ObserverNames, FailedActions, ChangeLogPosition] as unknown as AnySearchAttributeKey[];

/** Builds the fixture (call in beforeAll; teardown in afterAll). */
export async function createDlqFixture(name: string): Promise<DlqFixture> {
  const env = await createTestEnv({ timeSkipping: false, searchAttributes: ALL_SEARCH_ATTRIBUTES });
  const taskQueue = uniqueTaskQueue(name);
  const warehouse = await startHttpReceiver();
  const billing = await startHttpReceiver();
  const failing = (_req: RecordedRequest, res: ServerResponse): void => {
    res.statusCode = 400;
    res.end('{"error":"unknown customer"}');
  };
  billing.respond(failing);

  const yaml = `
ssrf:
  allow: [127.0.0.1/32]
observers:
  notify_warehouse:
    entity: Order
    events: [UPDATE]
    retry: { max_attempts: 3, initial_delay_ms: 100 }
    actions:
      - type: webhook
        url: "${warehouse.url}/warehouse/{{ event.entity_id }}"
  notify_billing:
    entity: "*"
    events: [UPDATE]
    retry: { max_attempts: 3, initial_delay_ms: 100 }
    actions:
      - type: webhook
        url: "${billing.url}/billing/{{ event.entity_id }}"
`;
  const config = parseConfig({ env: { DATABASE_URL: 'postgres://postgres@127.0.0.1/unused' }, text: yaml, source: 'observers.yaml' });
  const handler = createRowHandler(compileObservers(config));
  const starter = new TemporalStarter({ client: env.client, taskQueue });

  const activities: ObserverActivities = createActivities({
    env: {},
    log: captureLogger().log,
    breaker: new InMemoryBreakerStore({ minimumCalls: 1000 }),
    ssrf: { allow: ['127.0.0.1/32'] },
  });
  const sinks: InjectedSinks<ObserverSinks> = { observer: { eventFinished: { fn: () => undefined }, alert: { fn: () => undefined } } };
  const worker = await createWorker(env, {
    taskQueue,
    workflowsPath: SERVICE_WORKFLOWS,
    activities,
    sinks,
  });
  const running = worker.run();

  let position = 0;
  return {
    env,
    taskQueue,
    warehouse,
    billing,
    setBilling(mode) {
      billing.respond(mode === 'failing' ? failing : (_req, res) => void res.end('ok'));
    },
    holdBilling() {
      let release: () => void = () => undefined;
      const released = new Promise<void>((resolve) => (release = resolve));
      billing.respond(async (_req, res) => {
        await released;
        res.end('ok');
      });
      return release;
    },
    async startEvent(entityType) {
      position += 1;
      const entityId = randomUUID();
      const decision = handler({
        pk: String(position),
        id: randomUUID(),
        object_type: entityType,
        modification_type: 'UPDATE',
        object_id: entityId,
        object_data: { status: 'shipped', total: 42 },
        created_at: new Date(),
      });
      if (decision.kind !== 'start') throw new Error(`row not started: ${JSON.stringify(decision)}`);
      const workflowId = `fraiseql-event:${decision.event.id}`;
      expect(await starter.start(workflowId, decision)).toBe('started');
      const { runId } = await env.client.workflow.getHandle(workflowId).describe();
      return { eventId: decision.event.id, entityId, workflowId, runId };
    },
    requestsFor(receiver, entityId) {
      return receiver.requests.filter((r) => r.path.endsWith(`/${entityId}`));
    },
    async countRuns() {
      return (await env.client.workflow.count(`TaskQueue = '${taskQueue}'`)).count;
    },
    async teardown() {
      worker.shutdown();
      await running;
      await closeActivities(activities);
      await Promise.all([warehouse.close(), billing.close()]);
      await env.teardown();
    },
  };
}

/**
 * `dlq retry --with-current-config`: after a typo'd URL is fixed in the observers file, the retry
 * matches the event again against the file as it is now (a plain retry would call the frozen, wrong
 * URL again), `--dry-run` shows the difference and starts nothing, actions that succeeded stay
 * carried over, and the re-run action keeps its idempotency key. Real worker, real activities,
 * the built CLI (oclif) against the embedded server.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Console } from 'node:console';
import os from 'node:os';
import { join } from 'node:path';
import { Config, settings } from '@oclif/core';
import { runCommand } from '@oclif/test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { InjectedSinks } from '@temporalio/worker';
import { InMemoryBreakerStore, closeActivities, createActivities, type ObserverActivities } from '../../src/activities';
import { parseConfig } from '../../src/config';
import type { RetryAllResult, RetryDlqResult, RetryPlan } from '../../src/dlq';
import { compileObservers } from '../../src/events/match';
import { createRowHandler } from '../../src/listener/row-handler';
import { TemporalStarter } from '../../src/listener/temporal-starter';
import { ChangeLogPosition, EntityType, EventKind, FailedActions, ObserverNames } from '../../src/temporal/search-attributes';
import type { ObserverSinks } from '../../src/workflows/sinks';
import { captureLogger, startHttpReceiver, type HttpReceiver } from '../helpers/receivers';
import { createTestEnv, createWorker, rejectionOf, SERVICE_WORKFLOWS, uniqueTaskQueue, type AnySearchAttributeKey } from '../helpers/temporal-env';

jest.mock('../../node_modules/@oclif/core/lib/util/os', () => ({
  ...jest.requireActual<object>('../../node_modules/@oclif/core/lib/util/os'),
  getPlatform: async () => process.platform,
}));
settings.enableAutoTranspile = false;
jest.setTimeout(180_000);
process.env.TEMPORAL_TEST_LOG_LEVEL ??= 'ERROR';

const ROOT = join(__dirname, '..', '..');
const jestConsole = global.console;

let env: TestWorkflowEnvironment;
let oclif: Config;
let receiver: HttpReceiver;
let activities: ObserverActivities;
let stopWorker: () => Promise<void>;
let dir: string;

function observersYaml(notifyPath: string, maxAttempts: number): string {
  return `
ssrf:
  allow: [127.0.0.1/32]
observers:
  audit:
    entity: Order
    events: [UPDATE]
    retry: { max_attempts: 1 }
    actions:
      - type: webhook
        url: "${receiver.url}/audit/{{ event.entity_id }}"
  notify:
    entity: Order
    events: [UPDATE]
    retry: { max_attempts: ${maxAttempts}, initial_delay_ms: 100 }
    actions:
      - type: webhook
        url: "${receiver.url}/${notifyPath}/{{ event.entity_id }}"
`;
}

beforeAll(async () => {
  global.console = new Console({ stdout: process.stdout, stderr: process.stderr });
  oclif = await Config.load({ root: ROOT });
  env = await createTestEnv({ timeSkipping: false, searchAttributes: [EntityType, EventKind, ObserverNames, FailedActions, ChangeLogPosition] as unknown as AnySearchAttributeKey[] });
  // The typo'd path does not exist on the receiver: a permanent 404.
  receiver = await startHttpReceiver((req, res) => {
    res.statusCode = req.path.startsWith('/typo/') ? 404 : 200;
    res.end(res.statusCode === 404 ? 'no such hook' : 'ok');
  });
  dir = mkdtempSync(join(os.tmpdir(), 'fo-dlq-current-'));
  activities = createActivities({ env: {}, log: captureLogger().log, breaker: new InMemoryBreakerStore({ minimumCalls: 1000 }), ssrf: { allow: ['127.0.0.1/32'] } });
  const sinks: InjectedSinks<ObserverSinks> = { observer: { eventFinished: { fn: () => undefined }, alert: { fn: () => undefined } } };
  const taskQueue = uniqueTaskQueue('dlq-current-config');
  const worker = await createWorker(env, { taskQueue, workflowsPath: SERVICE_WORKFLOWS, activities, sinks });
  const running = worker.run();
  stopWorker = async () => {
    worker.shutdown();
    await running;
  };
  (globalThis as { taskQueue?: string }).taskQueue = taskQueue;
});

afterAll(async () => {
  global.console = jestConsole;
  await stopWorker?.();
  await closeActivities(activities);
  await receiver?.close();
  await env?.teardown();
  rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  process.exitCode = undefined;
});

it('re-matches the event against the fixed file: --dry-run shows the difference, the retry calls the fixed URL with the same idempotency key', async () => {
  const taskQueue = (globalThis as { taskQueue?: string }).taskQueue as string;
  const frozen = parseConfig({ env: { DATABASE_URL: 'postgres://postgres@127.0.0.1/unused' }, text: observersYaml('typo', 1), source: 'observers.yaml' });
  const handler = createRowHandler(compileObservers(frozen));
  const entityId = randomUUID();
  const decision = handler({ pk: '1', id: randomUUID(), object_type: 'Order', modification_type: 'UPDATE', object_id: entityId, object_data: { status: 'shipped' }, created_at: new Date() });
  if (decision.kind !== 'start') throw new Error('row not started');
  const workflowId = `fraiseql-event:${decision.event.id}`;
  await new TemporalStarter({ client: env.client, taskQueue }).start(workflowId, decision);
  await rejectionOf(env.client.workflow.getHandle(workflowId).result());
  const typo = receiver.requests.filter((r) => r.path === `/typo/${entityId}`);
  expect(typo).toHaveLength(1);
  const idempotencyKey = typo[0]?.headers['idempotency-key'];
  expect(idempotencyKey).toBe(`${decision.event.id}:notify:0`);

  const file = join(dir, 'observers.yaml');
  writeFileSync(file, observersYaml('hooks', 2));
  const dlq = (args: string[]) => runCommand(['dlq', ...args, '--address', env.address], oclif);
  const runsBefore = (await env.client.workflow.count(`WorkflowId = '${workflowId}'`)).count;

  const dry = await dlq(['retry', workflowId, '--with-current-config', '--config', file, '--dry-run', '--json']);
  expect(dry.error).toBeUndefined();
  const plan = JSON.parse(dry.stdout) as RetryPlan & { dryRun: boolean };
  expect(plan.dryRun).toBe(true);
  expect(plan.actionKeys).toEqual(['notify:0']);
  expect(plan.carriedKeys).toEqual(['audit:0']);
  expect(plan.configChanges).toEqual([
    { key: 'audit:0', change: 'unchanged', fields: [], runs: false },
    {
      key: 'notify:0',
      change: 'changed',
      fields: [
        { path: 'observer.retry.maxAttempts', before: 1, after: 2 },
        { path: 'url', before: `${receiver.url}/typo/{{ event.entity_id }}`, after: `${receiver.url}/hooks/{{ event.entity_id }}` },
      ],
      runs: true,
    },
  ]);
  const human = await dlq(['retry', workflowId, '--with-current-config', '--config', file, '--dry-run']);
  expect(human.stdout).toContain(`url: "${receiver.url}/typo/{{ event.entity_id }}" → "${receiver.url}/hooks/{{ event.entity_id }}"`);
  const all = await dlq(['retry-all', '--with-current-config', '--config', file, '--dry-run', '--json']);
  expect((JSON.parse(all.stdout) as RetryAllResult).items[0]?.configChanges?.find((c) => c.key === 'notify:0')?.change).toBe('changed');
  // A dry run starts nothing.
  expect((await env.client.workflow.count(`WorkflowId = '${workflowId}'`)).count).toBe(runsBefore);

  // --with-current-config needs the file.
  const noFile = await dlq(['retry', workflowId, '--with-current-config']);
  expect(noFile.error?.message).toMatch(/--config/);

  const retried = await dlq(['retry', workflowId, '--with-current-config', '--config', file, '--json']);
  expect(retried.error).toBeUndefined();
  const r = JSON.parse(retried.stdout) as RetryDlqResult;
  await env.client.workflow.getHandle(workflowId, r.runId).result();
  const fixed = receiver.requests.filter((q) => q.path === `/hooks/${entityId}`);
  expect(fixed).toHaveLength(1);
  expect(fixed[0]?.headers['idempotency-key']).toBe(idempotencyKey);
  // The action that had succeeded was carried over, not called again.
  expect(receiver.requests.filter((q) => q.path === `/audit/${entityId}`)).toHaveLength(1);
});

/**
 * The service's search attributes on a server: `dev-server` registers them by default, and
 * `start` against a server that lacks them is not ready (naming them), logs each refused start
 * with the missing attribute and the command that registers it, and recovers once they are
 * registered — no event is lost meanwhile.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { migrate } from '../../src/db/migrate';
import { explainStartFailure } from '../../src/listener/temporal-starter';
import { SEARCH_ATTRIBUTES } from '../../src/temporal/search-attributes';
import { createTestDatabase, waitFor, type TestDatabase } from '../helpers/pg';
import { type HttpReceiver, startHttpReceiver } from '../helpers/receivers';
import { type CliProcess, startDevServer, startService } from '../helpers/service-process';

jest.setTimeout(240_000);

const { IndexedValueType } = temporal.api.enums.v1;
const TYPE: Record<string, number> = {
  Keyword: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  KeywordList: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
  Int: IndexedValueType.INDEXED_VALUE_TYPE_INT,
};

const running: CliProcess[] = [];
afterAll(async () => {
  for (const p of running) await p.stop(2000);
});

async function listed(address: string): Promise<Record<string, number>> {
  const connection = await Connection.connect({ address });
  try {
    const r = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
    return { ...(r.customAttributes ?? {}) };
  } finally {
    await connection.close();
  }
}

describe('fraiseql-observers dev-server', () => {
  it('registers the five search attributes of the service by default, with their types', async () => {
    const server = await startDevServer();
    running.push(server);
    const custom = await listed(server.address);
    expect(Object.keys(SEARCH_ATTRIBUTES)).toEqual(['EntityType', 'EventKind', 'ObserverNames', 'FailedActions', 'ChangeLogPosition']);
    for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) expect([name, custom[name]]).toEqual([name, TYPE[type]]);
    await server.stop();
  });

  it('--no-service-search-attributes starts without them; --search-attribute adds others', async () => {
    const server = await startDevServer(['--no-service-search-attributes', '--search-attribute', 'Region=Keyword']);
    running.push(server);
    const custom = await listed(server.address);
    expect(custom.Region).toBe(TYPE.Keyword);
    for (const name of Object.keys(SEARCH_ATTRIBUTES)) expect(custom[name]).toBeUndefined();
    await server.stop();
  });
});

describe('explainStartFailure', () => {
  const refused = (details: string) => Object.assign(new Error('Failed to start Workflow'), { cause: Object.assign(new Error(`3 INVALID_ARGUMENT: ${details}`), { code: 3, details }) });

  it("names the attribute and the command, from the embedded server's and a real server's wording", () => {
    for (const details of ['Namespace default has no mapping defined for search attribute ChangeLogPosition', 'search attribute ChangeLogPosition is not defined']) {
      const err = explainStartFailure(refused(details), 'default');
      expect(err.message).toBe(
        'search attribute ChangeLogPosition is not registered on Temporal namespace default: register it: temporal operator search-attribute create ' +
          `--namespace default --name ChangeLogPosition --type Int (README: "Search attributes"). Temporal said: ${details}`,
      );
    }
  });

  it("carries any other refusal's reason into the message", () => {
    expect(explainStartFailure(refused('WorkflowId exceeds length limit.'), 'ns').message).toBe('Failed to start Workflow: WorkflowId exceeds length limit.');
    const plain = new Error('boom');
    expect(explainStartFailure(plain, 'ns')).toBe(plain);
  });
});

describe('start against a server without the search attributes', () => {
  let db: TestDatabase;
  let receiver: HttpReceiver;
  let dir: string;

  beforeAll(async () => {
    db = await createTestDatabase('sa_missing');
    await migrate({ pool: db.pool });
    receiver = await startHttpReceiver();
    dir = mkdtempSync(join(tmpdir(), 'sa-missing-'));
    writeFileSync(join(dir, 'observers.yaml'), [
      'ssrf:',
      '  allow: [127.0.0.1]',
      'observers:',
      '  order_created:',
      '    entity: Order',
      '    events: [INSERT]',
      '    actions:',
      '      - type: webhook',
      `        url: "${receiver.url}/created/{{ event.entity_id }}"`,
      '',
    ].join('\n'));
  });

  afterAll(async () => {
    await receiver?.close();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is not ready and says which attributes are missing; registering them lets the held event through', async () => {
    const server = await startDevServer(['--no-service-search-attributes']);
    running.push(server);
    const service = await startService(['--config', join(dir, 'observers.yaml'), '--metrics-port', '0'], {
      DATABASE_URL: db.url, TEMPORAL_ADDRESS: server.address, POLL_INTERVAL_MS: '200', METRICS_HOST: '127.0.0.1', LISTENER_ID: 'sa-missing',
    });
    running.push(service);
    // At start: the exact commands to register them.
    const warning = service.lines.find((l) => String(l.msg).startsWith('search attributes missing on the cluster'));
    expect(warning?.missing).toEqual(Object.keys(SEARCH_ATTRIBUTES));

    const ready = await fetch(`${service.base}/readyz`);
    expect(ready.status).toBe(503);
    const report = (await ready.json()) as { reason: string };
    expect(report.reason).toContain('temporal: search attributes missing on namespace default: EntityType, EventKind, ObserverNames, FailedActions, ChangeLogPosition');

    const { rows } = await db.pool.query<{ object_id: string }>(`INSERT INTO core.tb_entity_change_log (object_type, modification_type, object_id, object_data)
      VALUES ('Order', 'INSERT', gen_random_uuid(), '{}') RETURNING object_id::text`);
    const refusal = () => service.lines.find((l) => String(l.msg).startsWith('workflow start failed'));
    await waitFor('a refused start in the log', () => refusal() !== undefined, 60_000, 100);
    expect(String(refusal()!.msg)).toMatch(
      /^workflow start failed for fraiseql-event:[0-9a-f-]{36}: search attribute (EntityType|EventKind|ObserverNames|ChangeLogPosition) is not registered on Temporal namespace default: register it: temporal operator search-attribute create --namespace default --name \1 --type (Keyword|KeywordList|Int) /,
    );
    expect(receiver.requests).toHaveLength(0);

    // What a person does with the command: register them (here through the same OperatorService call).
    const connection = await Connection.connect({ address: server.address });
    try {
      await connection.operatorService.addSearchAttributes({
        namespace: 'default',
        searchAttributes: Object.fromEntries(Object.entries(SEARCH_ATTRIBUTES).map(([k, t]) => [k, TYPE[t]!])),
      });
    } finally {
      await connection.close();
    }
    await waitFor('the held event delivered', () => receiver.requests.some((r) => r.path === `/created/${rows[0]!.object_id}`), 90_000, 200);
    await waitFor('ready', async () => (await fetch(`${service.base}/readyz`)).status === 200, 30_000, 200);
    await service.stop();
    await server.stop();
  });
});

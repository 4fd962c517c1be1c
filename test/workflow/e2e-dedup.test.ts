/**
 * The dedup window end to end: real change-log rows → the service's listener and starter (windows
 * in the local Redis) → embedded Temporal → the service's worker → a webhook receiver. The same
 * change written twice reaches the receiver once; an observer without a window still runs for
 * the copy; a copy that no observer wants any more starts no workflow and does not stall the
 * listener; `debug-event` names the event a skipped one duplicated.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/client';
import { Redis } from 'ioredis';
import DebugEvent, { type DebugEventResult } from '../../src/cli/commands/debug-event';
import type { ProcessChangeEventInput } from '../../src/contract';
import { counterValue, startE2eServices, startPipeline, type E2eServices, type Pipeline } from '../helpers/e2e';
import { waitFor } from '../helpers/pg';
import { startHttpReceiver, type HttpReceiver } from '../helpers/receivers';
import { runCommand } from '../helpers/run-command';

jest.setTimeout(240_000);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

beforeAll(() => {
  // oclif's Config.load asks wsl-utils for the platform through a dynamic import() that Jest's VM refuses.
  const oclifOs = require(path.join(path.dirname(require.resolve('@oclif/core')), 'util/os.js'));
  jest.spyOn(oclifOs, 'getPlatform').mockResolvedValue(process.platform);
});

async function debugEvent(argv: string[]): Promise<DebugEventResult & { stdout: string }> {
  const r = await runCommand<DebugEventResult>(DebugEvent, argv);
  if (r.error) throw r.error;
  return { ...r.result!, stdout: r.stdout };
}

describe('dedup window, end to end', () => {
  let services: E2eServices;
  let receiver: HttpReceiver;
  let pipeline: Pipeline | undefined;
  let redis: Redis;
  let dir: string;

  beforeAll(async () => {
    services = await startE2eServices('e2e_dedup');
    receiver = await startHttpReceiver((_req, res) => {
      res.end('ok');
    });
    redis = new Redis(REDIS_URL);
    dir = mkdtempSync(path.join(tmpdir(), 'fo-e2e-dedup-'));
  });
  afterEach(async () => {
    if (pipeline) {
      const keys = await redis.keys(`fo:${pipeline.prefix}:*`);
      if (keys.length) await redis.del(...keys);
    }
    await pipeline?.stop();
    pipeline = undefined;
  });
  afterAll(async () => {
    await redis?.quit();
    await receiver?.close();
    await services?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const observers = (port: number) => `
observers:
  invalidate:
    entity: "{{ENTITY}}"
    events: [INSERT, UPDATE]
    dedup: { window_ms: 600000 }
    actions:
      - type: webhook
        url: "http://127.0.0.1:${port}/invalidate/{{ event.entity_id }}"
  audit:
    entity: "{{ENTITY}}"
    events: [UPDATE]
    actions:
      - type: log
ssrf:
  allow: ["127.0.0.1/32"]
`;

  it('delivers a change written twice once, names the original, and never stalls on the skipped copy', async () => {
    const yaml = observers(receiver.port);
    pipeline = await startPipeline(services, { observers: yaml, serviceEnv: { REDIS_URL } });
    const p = pipeline;
    const before = receiver.requests.length;
    const objectId = 'b0000000-0000-4000-8000-000000000001';
    // An application retry wrote the same INSERT twice; then the same UPDATE twice; then another change.
    const [insert, insertCopy, update, updateCopy, other] = await p.insert([
      { kind: 'INSERT', objectId, data: { status: 'new' } },
      { kind: 'INSERT', objectId, data: { status: 'new' } },
      { kind: 'UPDATE', objectId, data: { status: 'paid' } },
      { kind: 'UPDATE', objectId, data: { status: 'paid' } },
      { kind: 'UPDATE', objectId, data: { status: 'shipped' } },
    ]);

    for (const e of [insert!, update!, other!]) {
      const outcome = await p.outcome(e.id);
      expect(outcome.status).toBe('completed');
    }
    // The UPDATE copy still runs its window-less observer, and its input says what was skipped.
    const copyOutcome = await p.outcome(updateCopy!.id);
    expect(copyOutcome.status === 'completed' && copyOutcome.result.observers).toEqual(['audit']);
    const copyInput = (await p.handle(updateCopy!.id).fetchHistory()).events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    expect(copyInput).toBeDefined();
    const decoded = JSON.parse(Buffer.from(copyInput!.data as Uint8Array).toString('utf8')) as ProcessChangeEventInput;
    expect(decoded.deduplicated).toEqual([{ observer: 'invalidate', duplicateOf: update!.id }]);

    // The INSERT copy matched only the windowed observer: no workflow at all, yet the listener moved on.
    await waitFor('both copies counted as dedup hits', async () => (await counterValue(p.listenerMetrics, 'observer_dedup_hits_total', { observer: 'invalidate' })) === 2, 60_000, 50);
    await expect(p.handle(insertCopy!.id).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
    expect(await counterValue(p.listenerMetrics, 'observer_dedup_misses_total', { observer: 'invalidate' })).toBe(3);
    expect(await counterValue(p.listenerMetrics, 'observer_workflows_started_total')).toBe(4);

    // One webhook per distinct change: new, paid, shipped.
    const calls = receiver.requests.slice(before).map((r) => JSON.parse(r.body) as { id: string; data: { status: string } });
    expect(calls.map((c) => c.data.status).sort()).toEqual(['new', 'paid', 'shipped']);
    expect(calls.map((c) => c.id).sort()).toEqual([insert!.id, update!.id, other!.id].sort());

    // debug-event says which event the copy duplicated (from the value stored under its key).
    const configFile = path.join(dir, 'observers.yaml');
    writeFileSync(configFile, yaml.replaceAll('{{ENTITY}}', p.entity));
    const args = ['--config', configFile, '--database-url', services.db.url, '--workflow-id-prefix', p.prefix, '--redis-url', REDIS_URL, '--no-temporal'];
    const copy = await debugEvent([insertCopy!.pk, ...args, '--json']);
    expect(copy.observers?.find((o) => o.observer === 'invalidate')?.dedup).toMatchObject({ state: 'duplicate', duplicate_of: insert!.id, window_ms: 600000 });
    const original = await debugEvent([insert!.pk, ...args, '--json']);
    expect(original.observers?.find((o) => o.observer === 'invalidate')?.dedup).toMatchObject({ state: 'holds_window', window_ms: 600000 });
    const human = await debugEvent([insertCopy!.pk, ...args]);
    expect(human.stdout).toContain(`invalidate: dedup: DUPLICATE of event ${insert!.id}`);
    expect(human.stdout).toContain('the listener starts no workflow for it');
  });
});

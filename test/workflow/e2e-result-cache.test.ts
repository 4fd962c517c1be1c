/**
 * The action result cache end to end: change-log rows → listener → embedded Temporal → the
 * service's worker, whose activities keep outcomes in the local Redis. A burst of changes to one
 * entity calls the invalidation webhook once; the other runs record the cached outcome, visible
 * in their workflow result and current details; `cache-stats` reports the entries and counts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import CacheStats, { type CacheStatsResult } from '../../src/cli/commands/cache-stats';
import type { ProcessChangeEventResult } from '../../src/contract';
import { counterValue, startE2eServices, startPipeline, type E2eServices, type Pipeline } from '../helpers/e2e';
import { startHttpReceiver, type HttpReceiver } from '../helpers/receivers';
import { runCommand } from '../helpers/run-command';

jest.setTimeout(240_000);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

beforeAll(() => {
  // oclif's Config.load asks wsl-utils for the platform through a dynamic import() that Jest's VM refuses.
  const oclifOs = require(path.join(path.dirname(require.resolve('@oclif/core')), 'util/os.js'));
  jest.spyOn(oclifOs, 'getPlatform').mockResolvedValue(process.platform);
});

function cacheStats(argv: string[]) {
  return runCommand<CacheStatsResult>(CacheStats, argv);
}

describe('action result cache, end to end', () => {
  let services: E2eServices;
  let receiver: HttpReceiver;
  let pipeline: Pipeline | undefined;
  let redis: Redis;
  let dir: string;

  beforeAll(async () => {
    services = await startE2eServices('e2e_result_cache');
    // Slow enough that the burst's runs overlap: they must wait for the first one's outcome.
    receiver = await startHttpReceiver(async (_req, res) => {
      await new Promise((r) => setTimeout(r, 200));
      res.end('ok');
    });
    redis = new Redis(REDIS_URL);
    dir = mkdtempSync(path.join(tmpdir(), 'fo-e2e-cache-'));
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

  it('invalidates once per entity within the TTL and shows the cache hits in results, details and cache-stats', async () => {
    const yaml = `
observers:
  invalidate:
    entity: "{{ENTITY}}"
    events: [UPDATE]
    actions:
      - type: webhook
        url: "http://127.0.0.1:${receiver.port}/invalidate/{{ event.entity_id }}"
        cache: { ttl_ms: 300000 }
      - type: log
ssrf:
  allow: ["127.0.0.1/32"]
`;
    pipeline = await startPipeline(services, { observers: yaml, serviceEnv: { REDIS_URL } });
    const p = pipeline;
    const before = receiver.requests.length;
    const a = 'c0000000-0000-4000-8000-00000000000a';
    const b = 'c0000000-0000-4000-8000-00000000000b';
    const rows = await p.insert([
      { kind: 'UPDATE', objectId: a, data: { n: 1 } },
      { kind: 'UPDATE', objectId: a, data: { n: 2 } },
      { kind: 'UPDATE', objectId: a, data: { n: 3 } },
      { kind: 'UPDATE', objectId: b, data: { n: 1 } },
    ]);
    const results: ProcessChangeEventResult[] = [];
    for (const r of rows) {
      const outcome = await p.outcome(r.id);
      if (outcome.status !== 'completed') throw outcome.error;
      results.push(outcome.result);
    }
    // One webhook per entity.
    const paths = receiver.requests.slice(before).map((r) => r.path).sort();
    expect(paths).toEqual([`/invalidate/${a}`, `/invalidate/${b}`]);

    const hook = (r: ProcessChangeEventResult) => r.actions.find((x) => x.key === 'invalidate:0')!;
    const forA = results.slice(0, 3);
    const performedA = forA.filter((r) => hook(r).cachedFrom === undefined);
    expect(performedA).toHaveLength(1);
    const performer = performedA[0]!.eventId;
    for (const r of forA.filter((x) => x !== performedA[0])) {
      expect(r.status).toBe('succeeded');
      expect(hook(r)).toMatchObject({ status: 'succeeded', cachedFrom: performer, result: { cache: { hit: true, event_id: performer, key: `action:webhook:${p.entity}:${a}` } } });
      // The log action has no cache: it ran in every workflow.
      expect(r.actions.find((x) => x.key === 'invalidate:1')?.cachedFrom).toBeUndefined();
      const metadata = await p.handle(r.eventId).query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      expect(metadata.currentDetails).toContain(`| invalidate:0 | webhook | succeeded (cache hit: not performed, outcome of event ${performer}) |`);
    }
    expect(hook(results[3]!).result?.cache).toEqual({ hit: false, key: `action:webhook:${p.entity}:${b}`, ttl_ms: 300000 });
    expect(await counterValue(p.metrics, 'observer_cache_hits_total', { observer: 'invalidate', action_type: 'webhook' })).toBe(2);
    expect(await counterValue(p.metrics, 'observer_cache_misses_total', { observer: 'invalidate', action_type: 'webhook' })).toBe(2);

    // cache-stats: two outcomes cached now, two hits, two misses, for the configured action.
    const configFile = path.join(dir, 'observers.yaml');
    writeFileSync(configFile, yaml.replaceAll('{{ENTITY}}', p.entity));
    const args = ['--config', configFile, '--redis-url', REDIS_URL, '--workflow-id-prefix', p.prefix];
    const json = await cacheStats([...args, '--json']);
    expect(json.error).toBeUndefined();
    expect(json.result?.actions).toEqual([
      { action: 'invalidate:0', type: 'webhook', ttlMs: 300000, keyTemplate: null, entries: 2, pending: 0, hits: 2, misses: 2, hitRate: 0.5 },
    ]);
    const human = await cacheStats(args);
    expect(human.stdout).toMatch(/invalidate:0 .*webhook .*300000 ms .*default .*2 .*0 .*2 .*2 .*50\.0 %/);
  });
});

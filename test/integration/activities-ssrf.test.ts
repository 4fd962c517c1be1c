import type { LookupAddress } from 'node:dns';
import { ApplicationFailure } from '@temporalio/common';
import pino from 'pino';
import { InMemoryBreakerStore, closeActivities, createActivities, type ObserverActivities, type Resolver, type WebhookAction } from '../../src/activities';
import { activityEnv, orderEvent, startHttpReceiver, type HttpReceiver } from '../helpers/receivers';

jest.setTimeout(30_000);

async function failure(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

describe('SSRF guard on real requests', () => {
  let receiver: HttpReceiver;
  const opened: ObserverActivities[] = [];

  beforeEach(async () => {
    receiver = await startHttpReceiver();
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((a) => closeActivities(a)));
    await receiver.close();
  });

  function activities(allow: string[], resolve?: Resolver): ObserverActivities {
    const acts = createActivities({ env: {}, log: pino({ level: 'silent' }), breaker: new InMemoryBreakerStore(), ssrf: { allow, resolve, cacheMs: 0 } });
    opened.push(acts);
    return acts;
  }

  const hook = (url: string): WebhookAction => ({ type: 'webhook', key: 'ssrf:0', url, timeout_ms: 2000 });
  const run = (acts: ObserverActivities, url: string) => activityEnv().run(acts.runWebhook, { event: orderEvent(), action: hook(url) });

  it.each([
    ['loopback', (r: HttpReceiver) => `${r.url}/x`, '127.0.0.1'],
    ['IPv6 loopback', (r: HttpReceiver) => `http://[::1]:${r.port}/x`, '::1'],
    ['IPv4-mapped IPv6 loopback', (r: HttpReceiver) => `http://[::ffff:127.0.0.1]:${r.port}/x`, '::ffff:7f00:1'],
    ['private', () => 'http://10.0.0.7/x', '10.0.0.7'],
    ['metadata', () => 'http://169.254.169.254/latest/meta-data/iam/', '169.254.169.254'],
  ])('refuses a %s target that is not allowlisted, naming URL and address', async (_label, url, address) => {
    const target = url(receiver);
    const f = await failure(run(activities([]), target));
    expect(f).toMatchObject({ type: 'SsrfBlocked', nonRetryable: true });
    expect(f.message).toContain(new URL(target).href);
    expect(f.message).toContain(address);
    expect(receiver.requests).toHaveLength(0);
  });

  it('refuses a host name that resolves to a private address', async () => {
    const f = await failure(run(activities([], async () => [{ address: '192.168.1.20', family: 4 }]), 'http://intranet.example/x'));
    expect(f.message).toContain('intranet.example resolves to 192.168.1.20');
  });

  it('delivers to an allowlisted loopback target', async () => {
    await expect(run(activities(['127.0.0.1/32']), `${receiver.url}/ok`)).resolves.toMatchObject({ status_code: 200 });
    expect(receiver.requests).toHaveLength(1);
  });

  it('re-checks every redirect hop and refuses one to a private address', async () => {
    receiver.respond((req, res) => {
      const to = req.path === '/to-loopback' ? `${receiver.url}/internal` : 'http://169.254.169.254/latest/meta-data/';
      res.writeHead(302, { location: to });
      res.end();
    });
    // Only the name is allowlisted; its address (and any other loopback URL) is not.
    const acts = activities(['receiver.test'], async () => [{ address: '127.0.0.1', family: 4 }]);
    const viaIp = await failure(run(acts, `http://receiver.test:${receiver.port}/to-loopback`));
    expect(viaIp).toMatchObject({ type: 'SsrfBlocked', nonRetryable: true });
    expect(viaIp.message).toContain(`${receiver.url}/internal`);
    const toMetadata = await failure(run(acts, `http://receiver.test:${receiver.port}/to-metadata`));
    expect(toMetadata.message).toContain('169.254.169.254');
    expect(receiver.requests.map((r) => r.path)).toEqual(['/to-loopback', '/to-metadata']);
  });

  it('connects to the checked address: a rebinding resolver gets one question per request', async () => {
    const answers: LookupAddress[][] = [[{ address: '127.0.0.1', family: 4 }], [{ address: '127.0.0.9', family: 4 }]];
    const asked: string[] = [];
    const resolve: Resolver = async (host) => {
      asked.push(host);
      return answers[Math.min(asked.length - 1, answers.length - 1)]!;
    };
    const acts = activities(['127.0.0.1/32'], resolve);
    await expect(run(acts, `http://rebind.test:${receiver.port}/first`)).resolves.toMatchObject({ status_code: 200 });
    // The agent connected without resolving `rebind.test` itself (the system resolver cannot).
    expect(asked).toEqual(['rebind.test']);
    expect(receiver.requests[0]?.headers.host).toBe(`rebind.test:${receiver.port}`);

    const second = await failure(run(acts, `http://rebind.test:${receiver.port}/second`));
    expect(second.message).toContain('rebind.test resolves to 127.0.0.9');
    expect(asked).toHaveLength(2);
    expect(receiver.requests).toHaveLength(1);
  });
});

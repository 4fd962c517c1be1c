import type { LookupAddress } from 'node:dns';
import { ActionError } from '../../src/activities/errors';
import { SsrfGuard, type Resolver } from '../../src/activities/ssrf';
import { parseAllowEntry } from '../../src/activities/ssrf-allow';

/** A resolver that answers from a script, one answer per call, and counts calls. */
function scripted(...answers: LookupAddress[][]): Resolver & { calls: string[] } {
  const calls: string[] = [];
  const fn = async (host: string) => {
    calls.push(host);
    const answer = answers[Math.min(calls.length - 1, answers.length - 1)];
    if (!answer) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return answer;
  };
  return Object.assign(fn, { calls });
}

const v4 = (address: string): LookupAddress => ({ address, family: 4 });
const v6 = (address: string): LookupAddress => ({ address, family: 6 });

async function refusal(guard: SsrfGuard, url: string): Promise<ActionError> {
  const err = await guard.check(new URL(url)).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ActionError);
  return err as ActionError;
}

function lookupOnce(guard: SsrfGuard, host: string, all: boolean): Promise<unknown> {
  return new Promise((resolve, reject) => {
    guard.lookup(host, { all }, (err, address, family) => (err ? reject(err) : resolve(all ? address : { address, family })));
  });
}

describe('SsrfGuard.check', () => {
  it.each([
    ['http://127.0.0.1:8080/hook', '127.0.0.1', 'loopback'],
    ['http://10.0.0.5/hook', '10.0.0.5', 'private'],
    ['http://169.254.169.254/latest/meta-data/', '169.254.169.254', 'metadata'],
    ['http://[::1]/x', '::1', 'loopback'],
    ['http://[::ffff:127.0.0.1]/x', '::ffff:7f00:1', 'IPv4-mapped loopback'],
    ['http://[::ffff:7f00:1]/x', '::ffff:7f00:1', 'IPv4-mapped loopback'],
    ['http://[fe80::1]/x', 'fe80::1', 'link-local'],
    ['http://2130706433/x', '127.0.0.1', 'loopback'], // WHATWG URL folds integer hosts
    ['http://0x7f.1/x', '127.0.0.1', 'loopback'],
  ])('refuses %s without resolving', async (url, address, label) => {
    const resolve = scripted([v4('93.184.216.34')]);
    const err = await refusal(new SsrfGuard({ allow: [], resolve }), url);
    expect(err.type).toBe('SsrfBlocked');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain(address);
    expect(err.message).toContain(label);
    expect(err.message).toContain('ssrf.allow');
    expect(resolve.calls).toEqual([]);
  });

  it.each(['localhost', 'api.localhost', 'metadata.google.internal', 'METADATA.google.internal.', 'instance-data'])('refuses the host name %s', async (host) => {
    const err = await refusal(new SsrfGuard({ allow: [], resolve: scripted([v4('8.8.8.8')]) }), `http://${host}/x`);
    expect(err.message).toContain('local or metadata host name');
  });

  it('refuses a name resolving to any private address and names URL and address', async () => {
    const resolve = scripted([v4('93.184.216.34'), v4('192.168.0.10')]);
    const err = await refusal(new SsrfGuard({ allow: [], resolve }), 'https://hooks.example.com/a?b=1');
    expect(err.message).toContain('https://hooks.example.com/a?b=1');
    expect(err.message).toContain('hooks.example.com resolves to 192.168.0.10');
  });

  it('refuses a name resolving to an IPv4-mapped or NAT64 private address', async () => {
    for (const address of ['::ffff:10.0.0.1', '64:ff9b::a9fe:a9fe', 'fd00::1']) {
      const err = await refusal(new SsrfGuard({ allow: [], resolve: scripted([v6(address)]) }), 'http://evil.example/');
      expect(err.message).toContain(address);
    }
  });

  it('refuses non-http schemes', async () => {
    const err = await refusal(new SsrfGuard({ allow: [] }), 'file:///etc/passwd');
    expect(err.message).toContain('scheme file:');
  });

  it('allows public addresses and allowlisted CIDRs and host names', async () => {
    const pub = new SsrfGuard({ allow: [], resolve: scripted([v4('93.184.216.34'), v6('2606:2800:220:1::1')]) });
    await expect(pub.check(new URL('https://example.com/'))).resolves.toMatchObject({ hostname: 'example.com' });

    const onPrem = new SsrfGuard({ allow: ['10.0.0.0/8', '127.0.0.1', 'hooks.internal', '*.corp.example'], resolve: scripted([v4('10.1.2.3')]) });
    await expect(onPrem.check(new URL('http://127.0.0.1:9000/'))).resolves.toBeDefined();
    await expect(onPrem.check(new URL('http://[::ffff:127.0.0.1]:9000/'))).resolves.toBeDefined();
    await expect(onPrem.check(new URL('http://crm.internal.example/'))).resolves.toMatchObject({ addresses: [v4('10.1.2.3')] });

    const byName = new SsrfGuard({ allow: ['hooks.internal', '*.corp.example'], resolve: scripted([v4('192.168.9.9')]) });
    await expect(byName.check(new URL('http://hooks.internal/'))).resolves.toBeDefined();
    await expect(byName.check(new URL('http://a.b.corp.example/'))).resolves.toBeDefined();
    await expect(refusal(byName, 'http://corp.example.evil/')).resolves.toBeInstanceOf(ActionError);
  });

  it('allows only the port an entry names, for addresses, blocks, IPv6 and host names', async () => {
    const guard = new SsrfGuard({
      allow: ['127.0.0.1:9000', '10.0.0.0/8:443', '[::1]:8443', '[fd00::/8]:443', 'hooks.internal:8080', '*.corp.example:443'],
      resolve: scripted([v4('192.168.9.9')]),
    });
    await expect(guard.check(new URL('http://127.0.0.1:9000/'))).resolves.toBeDefined();
    await expect(guard.check(new URL('https://10.9.8.7/'))).resolves.toBeDefined();
    await expect(guard.check(new URL('http://[::1]:8443/'))).resolves.toBeDefined();
    await expect(guard.check(new URL('https://[fd00::5]/'))).resolves.toBeDefined();
    await expect(guard.check(new URL('http://hooks.internal:8080/'))).resolves.toBeDefined();
    await expect(guard.check(new URL('https://a.corp.example/'))).resolves.toBeDefined();
    for (const url of ['http://127.0.0.1:6379/', 'http://127.0.0.1/', 'http://10.9.8.7/', 'http://[::1]:5432/', 'http://hooks.internal/', 'http://a.corp.example:8443/']) {
      expect((await refusal(guard, url)).type).toBe('SsrfBlocked');
    }
    expect((await refusal(guard, 'http://127.0.0.1:6379/')).message).toBe(
      'SSRF guard refused http://127.0.0.1:6379/: address 127.0.0.1 port 6379, a loopback address; add 127.0.0.1:6379 to ssrf.allow to permit it',
    );
    // Other destinations than URLs take the same rule.
    await expect(guard.checkHost('127.0.0.1', 9000, 'SMTP 127.0.0.1:9000')).resolves.toMatchObject({ addresses: [v4('127.0.0.1')] });
    await expect(guard.checkHost('127.0.0.1', 25, 'SMTP 127.0.0.1:25')).rejects.toMatchObject({ type: 'SsrfBlocked' });
  });

  it.each([
    ['10.0.0.0/8', { kind: 'cidr', value: '10.0.0.0/8', port: null }],
    ['10.0.0.0/8:443', { kind: 'cidr', value: '10.0.0.0/8', port: 443 }],
    ['127.0.0.1:9000', { kind: 'cidr', value: '127.0.0.1', port: 9000 }],
    ['fd00::/8', { kind: 'cidr', value: 'fd00::/8', port: null }],
    ['[::1]:8443', { kind: 'cidr', value: '::1', port: 8443 }],
    ['Hooks.Internal:443', { kind: 'host', value: 'hooks.internal', port: 443 }],
    ['*.corp.example', { kind: 'suffix', value: '.corp.example', port: null }],
    ['10.0.0.0/33', null],
    ['127.0.0.1:0', null],
    ['127.0.0.1:70000', null],
    ['[::1', null],
    ['http://x', null],
    ['a b', null],
  ])('parses the allowlist entry %s', (entry, expected) => {
    expect(parseAllowEntry(entry)).toEqual(expected);
  });

  it('rejects an invalid allowlist entry at construction', () => {
    expect(() => new SsrfGuard({ allow: ['10.0.0.0/99'] })).toThrow('10.0.0.0/99');
    expect(() => new SsrfGuard({ allow: ['http://x'] })).toThrow('http://x');
  });

  it('reports resolution failures as retryable network errors', async () => {
    const err = await refusal(new SsrfGuard({ allow: [], resolve: scripted() }), 'http://nowhere.example/');
    expect(err.type).toBe('NetworkError');
    expect(err.retryable).toBe(true);
  });
});

describe('SsrfGuard pinning', () => {
  it('answers connect lookups from the checked resolution without resolving again', async () => {
    const resolve = scripted([v4('93.184.216.34')], [v4('10.0.0.1')]);
    const guard = new SsrfGuard({ allow: [], resolve, cacheMs: 0 });
    await guard.check(new URL('http://rebind.example/'));
    await expect(lookupOnce(guard, 'rebind.example', false)).resolves.toEqual({ address: '93.184.216.34', family: 4 });
    await expect(lookupOnce(guard, 'rebind.example', true)).resolves.toEqual([v4('93.184.216.34')]);
    expect(resolve.calls).toHaveLength(1);
  });

  it('never pins a refused resolution: earlier checked addresses stay the connect target', async () => {
    const resolve = scripted([v4('93.184.216.34')], [v4('10.0.0.1')]);
    const guard = new SsrfGuard({ allow: [], resolve, cacheMs: 0 });
    await guard.check(new URL('http://rebind.example/'));
    await refusal(guard, 'http://rebind.example/');
    await expect(lookupOnce(guard, 'rebind.example', false)).resolves.toEqual({ address: '93.184.216.34', family: 4 });
  });

  it('fails a connect lookup for a name that was never checked', async () => {
    const guard = new SsrfGuard({ allow: [] });
    await expect(lookupOnce(guard, 'unchecked.example', false)).rejects.toMatchObject({ code: 'ENOTPINNED' });
  });

  it('reuses a checked resolution within cacheMs', async () => {
    let now = 1_000;
    const resolve = scripted([v4('93.184.216.34')], [v4('93.184.216.35')]);
    const guard = new SsrfGuard({ allow: [], resolve, cacheMs: 5_000, clock: () => now });
    await guard.check(new URL('http://a.example/'));
    await guard.check(new URL('http://a.example/'));
    expect(resolve.calls).toHaveLength(1);
    now += 6_000;
    await guard.check(new URL('http://a.example/'));
    expect(resolve.calls).toHaveLength(2);
  });
});

import { createHmac } from 'node:crypto';
import { assertHeader, parseRetryAfter, statusFailure, type IncomingResponse } from '../../src/activities/http-client';
import { fraiseqlSignature, standardWebhooksHeaders, standardWebhooksKey } from '../../src/activities/signing';

const response = (status: number, headers: Record<string, string> = {}, body = ''): IncomingResponse => ({
  status,
  headers,
  body: Buffer.from(body),
  url: new URL('http://x.example/'),
  redirects: 0,
  truncated: false,
});

describe('statusFailure', () => {
  it('accepts 2xx', () => {
    for (const s of [200, 201, 202, 204, 299]) expect(statusFailure(response(s), 'u')).toBeUndefined();
  });

  it('makes 4xx other than 408/429 permanent HttpClientError', () => {
    for (const s of [300, 400, 401, 403, 404, 410, 422]) expect(statusFailure(response(s), 'u')).toMatchObject({ type: 'HttpClientError', retryable: false });
  });

  it('makes 408, 429 and 5xx retryable, honouring Retry-After', () => {
    expect(statusFailure(response(408), 'u')).toMatchObject({ type: 'HttpRetryableStatus', retryable: true, retryAfterMs: undefined });
    expect(statusFailure(response(429, { 'retry-after': '7' }), 'u')).toMatchObject({ retryable: true, retryAfterMs: 7000 });
    expect(statusFailure(response(503, {}, 'maintenance\r\n'), 'https://x/')).toMatchObject({ type: 'HttpServerError', retryable: true, message: 'https://x/ answered 503: maintenance' });
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  it('reads delta seconds and HTTP dates', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30_000);
  });
  it('ignores garbage, past dates and zero; caps at an hour', () => {
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now)).toBeUndefined();
    expect(parseRetryAfter('0', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('999999', now)).toBe(3_600_000);
  });
});

describe('assertHeader', () => {
  it('refuses CR/LF/NUL in values and non-token names', () => {
    expect(() => assertHeader('X-Ok', 'fine value')).not.toThrow();
    expect(() => assertHeader('X-Evil', 'a\r\nSet-Cookie: x=1')).toThrow(/header injection/);
    expect(() => assertHeader('X-Evil', 'a\nb')).toThrow(/header injection/);
    expect(() => assertHeader('X-Evil', 'a\0b')).toThrow(/header injection/);
    expect(() => assertHeader('Bad Name', 'v')).toThrow(/valid HTTP token/);
  });
});

describe('signatures', () => {
  it('FraiseQL: t=<ts>,v1=hex HMAC-SHA256(secret, "<t>.<body>")', () => {
    const expected = createHmac('sha256', 'topsecret').update('1700000000.{"a":1}').digest('hex');
    expect(fraiseqlSignature('topsecret', '{"a":1}', 1700000000)).toBe(`t=1700000000,v1=${expected}`);
  });

  it('Standard Webhooks: matches the specification example', () => {
    const headers = standardWebhooksHeaders(standardWebhooksKey('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'STD_SECRET'), 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}');
    expect(headers).toEqual({
      'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      'webhook-timestamp': '1614265330',
      'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    });
  });
});

/**
 * Webhook action: a templated, signed, idempotent HTTP request through the SSRF-guarded client.
 */
import { ErrorType, permanent } from './errors';
import { assertHeader, safeUrl, statusFailure } from './http-client';
import type { Attempt, ActionRuntime, Outcome } from './runtime';
import { fraiseqlSignature, standardWebhooksHeaders } from './signing';
import { eventEnvelope, templateContext } from './template';
import { DEFAULT_ACTION_TIMEOUT_MS, type ActionInput, type WebhookAction, type WebhookResult } from '../contract';

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

/** Parses a rendered URL; a malformed one is permanent. `what` names the field in the message. */
export function parseUrl(text: string, what: string): URL {
  try {
    return new URL(text);
  } catch {
    throw permanent(ErrorType.InvalidUrl, `${what}: not a valid absolute URL: ${JSON.stringify(text.slice(0, 200))}`, undefined, 'neutral');
  }
}

/** The breaker target of a URL: `host:port`. */
export function httpTarget(url: URL): string {
  return `${url.hostname}:${url.port || (url.protocol === 'https:' ? '443' : '80')}`;
}

/**
 * Delivers one webhook. Headers always include `Idempotency-Key: <event id>:<action key>`, identical
 * on every retry and DLQ replay, and the signature headers when a signing secret is configured.
 *
 * @throws ActionError see {@link statusFailure} and `HttpClient.send` for the failure types.
 */
export async function executeWebhook(rt: ActionRuntime, input: ActionInput<WebhookAction>, at: Attempt): Promise<Outcome<WebhookResult>> {
  const { event, action } = input;
  const ctx = templateContext(event);
  const url = parseUrl(rt.renderer.render(action.url, ctx, 'webhook url').trim(), 'webhook url');
  const method = (action.method ?? 'POST').toUpperCase();
  if (!METHODS.has(method)) throw permanent(ErrorType.InvalidAction, `webhook method ${method} is not supported`);
  const body = method === 'GET' ? undefined : action.body !== undefined ? rt.renderer.render(action.body, ctx, 'webhook body') : JSON.stringify(eventEnvelope(event));

  const headers: Record<string, string> = {};
  for (const [name, template] of Object.entries(action.headers ?? {})) {
    const value = rt.renderer.render(template, ctx, `webhook header ${name}`);
    assertHeader(name, value);
    headers[name.toLowerCase()] = value;
  }
  const idempotencyKey = `${event.id}:${action.key}`;
  headers['idempotency-key'] = idempotencyKey;
  headers['x-fraiseql-event-id'] = event.id;
  headers['user-agent'] ??= 'fraiseql-observers';
  if (body !== undefined) headers['content-type'] ??= 'application/json';
  if (action.signing_secret_env) {
    const secret = at.secrets.resolve(action.signing_secret_env, 'webhook signing secret');
    // A fresh timestamp per attempt: receivers reject stale signatures, not repeated deliveries.
    const t = Math.floor(rt.clock() / 1000);
    headers['x-fraiseql-signature-256'] = fraiseqlSignature(secret, body ?? '', t);
    if (action.standard_webhooks) Object.assign(headers, standardWebhooksHeaders(secret, idempotencyKey, t, body ?? ''));
  } else if (action.standard_webhooks) {
    throw permanent(ErrorType.InvalidAction, 'webhook standard_webhooks needs signing_secret_env');
  }

  const res = await rt.breaker.run(httpTarget(url), async () => {
    const r = await rt.http.send({
      url,
      method,
      headers,
      body,
      timeoutMs: action.timeout_ms ?? DEFAULT_ACTION_TIMEOUT_MS.webhook,
      maxResponseBytes: action.max_response_bytes ?? DEFAULT_MAX_RESPONSE_BYTES,
      signal: at.signal,
    });
    const failure = statusFailure(r, safeUrl(r.url));
    if (failure) throw failure;
    return r;
  });
  return {
    type: 'webhook',
    key: action.key,
    status_code: res.status,
    url: safeUrl(res.url),
    redirects: res.redirects,
    response_bytes: res.body.length,
    idempotency_key: idempotencyKey,
  };
}

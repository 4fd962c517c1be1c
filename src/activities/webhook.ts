/**
 * Webhook action: a templated, signed, idempotent HTTP request through the SSRF-guarded client.
 */
import { DEFAULT_MAX_RESPONSE_BYTES, actionTimeoutMs, webhookBodyMode, type ActionInput, type WebhookAction, type WebhookResult } from '../contract';
import { eventEnvelope, templateScope } from '../template';
import { ErrorType, permanent } from './errors';
import { assertHeader, displayUrl, statusFailure } from './http-client';
import { renderField } from './render';
import type { Attempt, ActionRuntime, Outcome } from './runtime';
import { fraiseqlSignature, standardWebhooksHeaders, standardWebhooksKey } from './signing';

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
// WHATWG URL parsing silently drops tabs and line breaks; a rendered URL holding any control
// character is refused instead, so event data cannot smuggle them into the request line.
const URL_CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Parses a rendered URL; a malformed one, or one with control characters, is permanent. `what`
 * names the field in the message, which quotes at most the start of the text.
 */
export function parseUrl(text: string, what: string): URL {
  if (URL_CONTROL.test(text)) {
    throw permanent(ErrorType.InvalidUrl, `${what}: the rendered URL contains a control character (CR, LF, tab or NUL); refused: ${JSON.stringify(text.slice(0, 200))}`, undefined, 'neutral');
  }
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
 * The request headers: rendered `headers`, `headers_env` values read from the environment now,
 * then the fixed ones. Every value is checked (no control characters, Latin-1 only).
 */
function buildHeaders(action: WebhookAction, scope: ReturnType<typeof templateScope>, at: Attempt): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, template] of Object.entries(action.headers ?? {})) {
    const value = renderField(template, scope, `webhook header ${name}`);
    assertHeader(name, value);
    headers[name.toLowerCase()] = value;
  }
  for (const [name, variable] of Object.entries(action.headers_env ?? {})) {
    const value = at.secrets.resolve(variable, `webhook header ${name} (headers_env)`);
    assertHeader(name, value, variable);
    headers[name.toLowerCase()] = value;
  }
  return headers;
}

/**
 * Delivers one webhook. Headers always include `Idempotency-Key: <event id>:<action key>`, identical
 * on every retry and DLQ replay, and the signature headers when a signing secret is configured.
 *
 * @throws ActionError see {@link statusFailure} and `HttpClient.send` for the failure types.
 */
export async function executeWebhook(rt: ActionRuntime, input: ActionInput<WebhookAction>, at: Attempt): Promise<Outcome<WebhookResult>> {
  const { event, action } = input;
  const scope = templateScope(event);
  const url = parseUrl(renderField(action.url, scope, 'webhook url').trim(), 'webhook url');
  const method = (action.method ?? 'POST').toUpperCase();
  if (!METHODS.has(method)) throw permanent(ErrorType.InvalidAction, `webhook method ${method} is not supported`);
  const body =
    method === 'GET' ? undefined
    : action.body !== undefined ? renderField(action.body, scope, 'webhook body', webhookBodyMode(action.headers))
    : JSON.stringify(eventEnvelope(event));

  const headers = buildHeaders(action, scope, at);
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
    if (action.standard_webhooks) {
      const key = standardWebhooksKey(secret, action.signing_secret_env);
      at.secrets.remember(key.toString('base64'));
      Object.assign(headers, standardWebhooksHeaders(key, idempotencyKey, t, body ?? ''));
    }
  } else if (action.standard_webhooks) {
    throw permanent(ErrorType.InvalidAction, 'webhook standard_webhooks needs signing_secret_env');
  }

  const maxResponseBytes = action.max_response_bytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const res = await rt.breaker.run(
    httpTarget(url),
    async () => {
      const r = await rt.http.send({ url, method, headers, body, timeoutMs: actionTimeoutMs(action), maxResponseBytes, signal: at.signal });
      const failure = statusFailure(r, displayUrl(r.url));
      if (failure) throw failure;
      return r;
    },
    { until: at.waitUntil, heartbeat: at.heartbeat, signal: at.signal },
  );
  return {
    type: 'webhook',
    key: action.key,
    status_code: res.status,
    url: displayUrl(res.url),
    redirects: res.redirects,
    response_bytes: res.body.length,
    ...(res.truncated ? { response_truncated: true } : {}),
    idempotency_key: idempotencyKey,
  };
}

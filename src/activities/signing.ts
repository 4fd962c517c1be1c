/**
 * Webhook signatures: FraiseQL's `X-FraiseQL-Signature-256` and the Standard Webhooks scheme.
 */
import { createHmac } from 'node:crypto';
import { ErrorType, permanent } from './errors';

/** The shortest Standard Webhooks key accepted, in bytes (the scheme asks for 24 to 64). */
export const MIN_STANDARD_WEBHOOKS_KEY_BYTES = 24;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The FraiseQL signature header value: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
 * The secret is used as its UTF-8 bytes, as FraiseQL receivers expect.
 */
export function fraiseqlSignature(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/**
 * What is wrong with a Standard Webhooks secret, or undefined when it is usable: it must be
 * `whsec_` followed by standard base64 of at least {@link MIN_STANDARD_WEBHOOKS_KEY_BYTES} bytes.
 * Never quotes the value.
 */
export function standardWebhooksKeyProblem(secret: string): string | undefined {
  if (!secret.startsWith('whsec_')) return "does not start with 'whsec_' (Standard Webhooks secrets are whsec_<base64 key>)";
  const encoded = secret.slice('whsec_'.length);
  if (!BASE64.test(encoded) || encoded === '') return "is not valid base64 after 'whsec_'";
  const bytes = Buffer.from(encoded, 'base64').length;
  if (bytes < MIN_STANDARD_WEBHOOKS_KEY_BYTES) return `decodes to a ${bytes}-byte key; at least ${MIN_STANDARD_WEBHOOKS_KEY_BYTES} bytes are required`;
  return undefined;
}

/**
 * The Standard Webhooks signing key: the base64 after `whsec_`, decoded.
 *
 * @throws ActionError `InvalidAction` (permanent) naming `variable` when the secret is not a usable key.
 */
export function standardWebhooksKey(secret: string, variable: string): Buffer {
  const problem = standardWebhooksKeyProblem(secret);
  if (problem !== undefined) throw permanent(ErrorType.InvalidAction, `webhook signing secret in ${variable} ${problem}`);
  return Buffer.from(secret.slice('whsec_'.length), 'base64');
}

/** The Standard Webhooks headers (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`). */
export function standardWebhooksHeaders(key: Buffer, id: string, unixSeconds: number, body: string): Record<string, string> {
  const mac = createHmac('sha256', key).update(`${id}.${unixSeconds}.${body}`).digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': String(unixSeconds), 'webhook-signature': `v1,${mac}` };
}

/**
 * Webhook signatures: FraiseQL's `X-FraiseQL-Signature-256` and the Standard Webhooks scheme.
 */
import { createHmac } from 'node:crypto';

/**
 * The FraiseQL signature header value: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
 * The secret is used as its UTF-8 bytes, as FraiseQL receivers expect.
 */
export function fraiseqlSignature(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/** The Standard Webhooks signing key: the secret without its `whsec_` prefix, base64-decoded. */
export function standardWebhooksKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
}

/** The Standard Webhooks headers (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`). */
export function standardWebhooksHeaders(secret: string, id: string, unixSeconds: number, body: string): Record<string, string> {
  const mac = createHmac('sha256', standardWebhooksKey(secret)).update(`${id}.${unixSeconds}.${body}`).digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': String(unixSeconds), 'webhook-signature': `v1,${mac}` };
}

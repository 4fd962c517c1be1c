/**
 * The action types an observer can run. Field names follow the observers file (snake_case); the
 * parsed objects travel unchanged as workflow input, so they hold environment-variable names for
 * secrets and template sources, never secret values or rendered text.
 */
import { z } from 'zod';
import { MAX_ACTION_TIMEOUT_MS, webhookBodyMode } from '../contract';
import { isTemplated } from '../template';
import { actionCacheSchema } from './action-cache';
import { envName, millis, strictMap, template, templateProblem } from './fields';

export const ACTION_TYPES = ['webhook', 'slack', 'email', 'cache', 'database', 'log'] as const;
export type ActionType = (typeof ACTION_TYPES)[number];

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Headers whose values are credentials; they must come from the environment (headers_env).
const SENSITIVE_HEADER = /^(authorization|proxy-authorization|cookie)$|token|secret|api-?key|password|signature/i;
const SQL_IDENT = '[A-Za-z_][A-Za-z0-9_$]*';
const QUALIFIED_FUNCTION = new RegExp(`^(${SQL_IDENT}\\.)?${SQL_IDENT}$`);

const headerName = z.string().regex(HEADER_NAME, { error: 'not a valid HTTP header name' });

/**
 * A URL template: its scheme must be written literally (so no event value can choose it), and no
 * credentials may sit in its userinfo part.
 */
const urlTemplate = template.superRefine((source, ctx) => {
  const literalHead = source.split(/\{[{%]/)[0] ?? '';
  const scheme = /^(https?):\/\//i.exec(literalHead);
  if (scheme === null) {
    ctx.addIssue({ code: 'custom', message: 'the URL must start with http:// or https:// written literally (not from a template)' });
    return;
  }
  const authority = literalHead.slice(scheme[0].length).split(/[/?#]/)[0] ?? '';
  if (authority.includes('@')) {
    ctx.addIssue({
      code: 'custom',
      message: 'credentials in the URL are an inline secret: remove user:password@ and send them with headers_env (e.g. Authorization)',
    });
    return;
  }
  if (/^hooks\.slack\.com$/i.test(authority)) {
    ctx.addIssue({ code: 'custom', message: 'a Slack incoming-webhook URL is itself a secret: use a slack action with webhook_url_env' });
    return;
  }
  // Templated parts become a marker, so only values written literally count as inline secrets.
  const literalOnly = source.replace(/\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}/g, '\u0000');
  const secretParam = /[?&]([^=&#]*(?:token|secret|api_?key|password|signature|sig)[^=&#]*)=[^&#\u0000]/i.exec(literalOnly);
  if (secretParam !== null) {
    ctx.addIssue({
      code: 'custom',
      message: `query parameter '${secretParam[1]}' holds a secret written inline: send it with headers_env, or template it from the event`,
    });
    return;
  }
  if (!isTemplated(source) && !URL.canParse(source)) ctx.addIssue({ code: 'custom', message: 'not a valid URL' });
});

const webhook = strictMap({
  type: z.literal('webhook'),
  cache: actionCacheSchema.optional(),
  url: urlTemplate,
  method: z
    .string()
    .transform((v) => v.toUpperCase())
    .pipe(z.enum(['POST', 'PUT', 'PATCH', 'DELETE', 'GET']))
    .default('POST'),
  headers: z
    .record(headerName, template)
    .superRefine(
      (headers, ctx) => {
        if (typeof headers !== 'object' || headers === null) return;
        for (const name of Object.keys(headers)) {
          if (SENSITIVE_HEADER.test(name)) {
            ctx.addIssue({
              code: 'custom',
              path: [name],
              message: `'${name}' carries a credential and cannot be written inline: put the value in an environment variable and list it under headers_env`,
            });
          }
        }
      },
      // A credential written inline is worth reporting even while other fields are still wrong.
      { when: () => true },
    )
    .default({}),
  /** Header name → environment variable holding its value (Authorization, API keys). */
  headers_env: z.record(headerName, envName).default({}),
  body: template.optional(),
  signing_secret_env: envName.optional(),
  /** Also send Standard Webhooks headers (webhook-id, webhook-timestamp, webhook-signature). */
  standard_webhooks: z.boolean().default(false),
  timeout_ms: millis.max(MAX_ACTION_TIMEOUT_MS).optional(),
  max_response_bytes: z.int().positive().optional(),
}).superRefine((action, ctx) => {
  const inline = new Set(Object.keys(action.headers).map((n) => n.toLowerCase()));
  for (const name of Object.keys(action.headers_env)) {
    if (inline.has(name.toLowerCase())) {
      ctx.addIssue({ code: 'custom', path: ['headers_env', name], message: `'${name}' is also set under headers; set it in one place only` });
    }
  }
  if (action.body !== undefined && webhookBodyMode(action.headers) === 'json') {
    // A JSON body is parsed as the JSON-mode template it renders as (no `raw`, values encoded).
    const problem = templateProblem(action.body, 'json');
    if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['body'], message: problem });
    else if (!/^\s*(\{\{|\{%|[[{"]|$)/.test(action.body)) {
      ctx.addIssue({
        code: 'custom',
        path: ['body'],
        message: 'a webhook body is sent as JSON unless headers set a non-JSON Content-Type, and this one does not start like JSON (with {, [ or ")',
      });
    }
  }
  if (action.standard_webhooks && action.signing_secret_env === undefined) {
    ctx.addIssue({ code: 'custom', path: ['signing_secret_env'], message: 'required when standard_webhooks is true (the signature needs a secret)' });
  }
});

/** Slack Block Kit blocks: any JSON, whose strings are templates. */
const slackBlocks = z.array(z.record(z.string(), z.unknown())).superRefine((blocks, ctx) => {
  const visit = (value: unknown, path: PropertyKey[]): void => {
    if (typeof value === 'string') {
      const result = template.safeParse(value);
      if (!result.success) for (const issue of result.error.issues) ctx.addIssue({ code: 'custom', path, message: issue.message });
    } else if (Array.isArray(value)) {
      value.forEach((item, i) => visit(item, [...path, i]));
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) visit(v, [...path, k]);
    }
  };
  blocks.forEach((block, i) => visit(block, [i]));
});

const slack = strictMap({
  type: z.literal('slack'),
  cache: actionCacheSchema.optional(),
  webhook_url_env: envName,
  text: template.optional(),
  blocks: slackBlocks.optional(),
  timeout_ms: millis.max(MAX_ACTION_TIMEOUT_MS).optional(),
});

const smtp = strictMap({
  host: z.string().min(1),
  port: z.int().min(1).max(65_535),
  /** TLS from the first byte (port 465); otherwise STARTTLS when the server offers it. */
  secure: z.boolean().optional(),
  user_env: envName.optional(),
  password_env: envName.optional(),
}).superRefine((value, ctx) => {
  if ((value.user_env === undefined) !== (value.password_env === undefined)) {
    const missing = value.user_env === undefined ? 'user_env' : 'password_env';
    ctx.addIssue({ code: 'custom', path: [missing], message: 'user_env and password_env go together' });
  }
});

/**
 * An address field entry: a template that must render to exactly one address, or `{ list: template }`
 * when the rendered text is meant to hold several, comma-separated.
 */
const addressEntry = z.union([template, strictMap({ list: template })], {
  error: 'expected an address template, or { list: <template> } for a comma-separated list of addresses',
});
const addressList = z.preprocess((v) => (typeof v === 'string' || (typeof v === 'object' && v !== null && !Array.isArray(v)) ? [v] : v), z.array(addressEntry).min(1));

const email = strictMap({
  type: z.literal('email'),
  cache: actionCacheSchema.optional(),
  /** Each entry yields one address, or several when written as `{ list: ... }`. */
  to: addressList,
  cc: addressList.optional(),
  reply_to: template.optional(),
  from: template,
  subject: template,
  /** Plain-text body. */
  body: template,
  smtp,
  timeout_ms: millis.max(MAX_ACTION_TIMEOUT_MS).optional(),
});

const cache = strictMap({
  type: z.literal('cache'),
  cache: actionCacheSchema.optional(),
  keys: z.array(template).default([]),
  /** Redis glob patterns (SCAN MATCH); event values interpolated into them are escaped. */
  patterns: z.array(template).default([]),
  /** Defaults to REDIS_URL. */
  redis_url_env: envName.optional(),
}).superRefine((value, ctx) => {
  if (value.keys.length === 0 && value.patterns.length === 0) {
    ctx.addIssue({ code: 'custom', path: ['keys'], message: 'a cache action needs at least one entry in keys or patterns' });
  }
  value.patterns.forEach((pattern, i) => {
    if (/^[*?\s]*$/.test(pattern)) {
      ctx.addIssue({ code: 'custom', path: ['patterns', i], message: `'${pattern}' would invalidate every key; start the pattern with a literal prefix` });
    }
  });
});

const database = strictMap({
  type: z.literal('database'),
  cache: actionCacheSchema.optional(),
  /** `schema.function`, called with the event as jsonb. */
  function: z.string().regex(QUALIFIED_FUNCTION, { error: "expected a function name such as 'app.fn_on_order_shipped'" }),
});

const log = strictMap({
  type: z.literal('log'),
  cache: actionCacheSchema.optional(),
  level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
  message: template.optional(),
});

/** One action of an observer, discriminated on `type`. */
export const actionSchema = z.discriminatedUnion('type', [webhook, slack, email, cache, database, log]);

export type ActionConfig = z.output<typeof actionSchema>;
export type WebhookAction = Extract<ActionConfig, { type: 'webhook' }>;
export type SlackAction = Extract<ActionConfig, { type: 'slack' }>;
export type EmailAction = Extract<ActionConfig, { type: 'email' }>;
export type CacheAction = Extract<ActionConfig, { type: 'cache' }>;
export type DatabaseAction = Extract<ActionConfig, { type: 'database' }>;
export type LogAction = Extract<ActionConfig, { type: 'log' }>;

/**
 * Email action: every address and text field is a template; sent over SMTP with nodemailer.
 * A 5xx SMTP reply (or an envelope the server can never accept) is permanent; anything else retries.
 */
import { createHash } from 'node:crypto';
import { ErrorType, messageOf, permanent, transient } from './errors';
import type { Attempt, ActionRuntime, Outcome, SmtpTransportOptions } from './runtime';
import { type TemplateContext, type TemplateRenderer, templateContext } from './template';
import { DEFAULT_ACTION_TIMEOUT_MS, type ActionInput, type EmailAction, type EmailResult } from '../contract';

// Codes nodemailer raises for messages or settings no server will ever accept.
const PERMANENT_CODES = new Set(['EENVELOPE', 'ECONFIG', 'ENOAUTH', 'EMAXRECIPIENTS']);
const LINE_BREAK = /[\r\n\0]/;

function renderField(renderer: TemplateRenderer, template: string, ctx: TemplateContext, what: string): string {
  const value = renderer.render(template, ctx, `email ${what}`).trim();
  if (LINE_BREAK.test(value)) {
    throw permanent(ErrorType.InvalidHeader, `email ${what}: rendered value contains CR, LF or NUL (header injection refused)`, undefined, 'neutral');
  }
  return value;
}

function renderAddresses(renderer: TemplateRenderer, field: string | string[] | undefined, ctx: TemplateContext, what: string): string[] {
  const templates = field === undefined ? [] : Array.isArray(field) ? field : [field];
  return templates.map((t, i) => renderField(renderer, t, ctx, `${what}[${i}]`)).filter((a) => a !== '');
}

/** The breaker target of an SMTP server. */
export function smtpTarget(host: string, port: number): string {
  return `smtp:${host}:${port}`;
}

/** Sends one email; the Message-ID is derived from event id and action key, so retries reuse it. */
export async function executeEmail(rt: ActionRuntime, input: ActionInput<EmailAction>, at: Attempt): Promise<Outcome<EmailResult>> {
  const { event, action } = input;
  const { smtp } = action;
  if (!smtp || typeof smtp.host !== 'string' || !Number.isInteger(smtp.port)) {
    throw permanent(ErrorType.InvalidAction, 'email smtp.host and smtp.port are required');
  }
  const ctx = templateContext(event);
  const to = renderAddresses(rt.renderer, action.to, ctx, 'to');
  if (to.length === 0) throw permanent(ErrorType.InvalidAction, 'email to: no recipient after rendering', undefined, 'neutral');
  const cc = renderAddresses(rt.renderer, action.cc, ctx, 'cc');
  const replyTo = action.reply_to === undefined ? undefined : renderField(rt.renderer, action.reply_to, ctx, 'reply_to') || undefined;
  const from = renderField(rt.renderer, action.from, ctx, 'from');
  const subject = renderField(rt.renderer, action.subject, ctx, 'subject');
  const text = rt.renderer.render(action.body, ctx, 'email body');

  const user = smtp.user_env ? at.secrets.resolve(smtp.user_env, 'SMTP user') : undefined;
  const pass = smtp.password_env ? at.secrets.resolve(smtp.password_env, 'SMTP password') : undefined;
  const timeout = action.timeout_ms ?? DEFAULT_ACTION_TIMEOUT_MS.email;
  const options: SmtpTransportOptions = {
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure ?? smtp.port === 465,
    auth: user !== undefined ? { user, pass: pass ?? '' } : undefined,
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
  };
  const domain = /@([^>\s]+)>?$/.exec(from)?.[1] ?? 'fraiseql-observers.invalid';
  const messageId = `<${createHash('sha256').update(`${event.id}:${action.key}`).digest('hex').slice(0, 32)}@${domain}>`;

  const info = await rt.breaker.run(smtpTarget(smtp.host, smtp.port), async () => {
    try {
      return await rt.smtpFor(options).sendMail({
        from,
        to,
        cc: cc.length > 0 ? cc : undefined,
        replyTo,
        subject,
        text,
        messageId,
        headers: { 'X-FraiseQL-Event-Id': event.id, 'X-FraiseQL-Action-Key': action.key },
      });
    } catch (err) {
      throw smtpError(err, smtp.host, smtp.port);
    }
  });
  const addresses = (list: unknown): string[] =>
    Array.isArray(list) ? list.map((a) => (typeof a === 'string' ? a : String((a as { address?: unknown }).address))) : [];
  return { type: 'email', key: action.key, message_id: String(info.messageId ?? messageId), accepted: addresses(info.accepted), rejected: addresses(info.rejected) };
}

function smtpError(err: unknown, host: string, port: number) {
  const { responseCode, code } = err as { responseCode?: unknown; code?: unknown };
  const text = `SMTP ${host}:${port}: ${messageOf(err)}`;
  if (typeof responseCode === 'number' && responseCode >= 500) return permanent(ErrorType.SmtpRejected, text);
  if (typeof code === 'string' && PERMANENT_CODES.has(code) && !(typeof responseCode === 'number' && responseCode < 500)) {
    return permanent(ErrorType.SmtpRejected, text);
  }
  return transient(ErrorType.SmtpError, text);
}

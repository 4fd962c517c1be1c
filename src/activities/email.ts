/**
 * Email action: every address and text field is a template; sent over SMTP with nodemailer to
 * the address the SSRF guard checked. A 5xx SMTP reply (or an envelope the server can never
 * accept) is permanent; anything else retries.
 */
import { createHash } from 'node:crypto';
import addressparser from 'nodemailer/lib/addressparser';
import { actionTimeoutMs, type ActionInput, type EmailAction, type EmailResult } from '../contract';
import { templateScope, type TemplateScope } from '../template';
import { ErrorType, messageOf, permanent, transient } from './errors';
import { renderField } from './render';
import type { Attempt, ActionRuntime, Outcome, SmtpTransportOptions } from './runtime';

// Codes nodemailer raises for messages or settings no server will ever accept.
const PERMANENT_CODES = new Set(['EENVELOPE', 'ECONFIG', 'ENOAUTH', 'EMAXRECIPIENTS']);
const LINE_BREAK = /[\r\n\0]/;
const ADDRESS = /^[^@\s<>,;"]+@[^@\s<>,;"]+$/;

/** One mailbox, passed to nodemailer as an object so it is never parsed again. */
interface Mailbox {
  name: string;
  address: string;
}

type AddressEntry = EmailAction['to'][number];

function renderLine(template: string, scope: TemplateScope, what: string): string {
  const value = renderField(template, scope, `email ${what}`).trim();
  if (LINE_BREAK.test(value)) {
    throw permanent(ErrorType.InvalidHeader, `email ${what}: rendered value contains CR, LF or NUL (header injection refused)`, undefined, 'neutral');
  }
  return value;
}

/**
 * The mailboxes of a rendered address text. `single`: exactly one, so event data holding
 * `a@x, attacker@evil` cannot add a recipient.
 *
 * @throws ActionError `InvalidAction` (permanent) naming the field and how many addresses it held.
 */
function mailboxes(text: string, what: string, single: boolean): Mailbox[] {
  if (text === '') return [];
  const parsed = addressparser(text);
  const flat = parsed.flatMap((p) => ('group' in p ? [{ name: p.name, address: '' }, ...(p.group ?? [])] : [p])).map((p) => ({ name: p.name ?? '', address: p.address ?? '' }));
  if (single && flat.length !== 1) {
    throw permanent(
      ErrorType.InvalidAction,
      `email ${what}: rendered to ${flat.length} addresses, but a templated address field holds exactly one (write { list: ... } for a list)`,
      undefined,
      'neutral',
    );
  }
  for (const box of flat) {
    if (!ADDRESS.test(box.address)) throw permanent(ErrorType.InvalidAction, `email ${what}: ${JSON.stringify(box.address.slice(0, 100))} is not an email address`, undefined, 'neutral');
  }
  return flat.map((box) => ({ name: box.name, address: box.address }));
}

function renderAddresses(entries: readonly AddressEntry[] | undefined, scope: TemplateScope, what: string): Mailbox[] {
  return (entries ?? []).flatMap((entry, i) => {
    const isList = typeof entry === 'object';
    const text = renderLine(isList ? entry.list : entry, scope, `${what}[${i}]`);
    return mailboxes(text, `${what}[${i}]`, !isList);
  });
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
  const scope = templateScope(event);
  const to = renderAddresses(action.to, scope, 'to');
  if (to.length === 0) throw permanent(ErrorType.InvalidAction, 'email to: no recipient after rendering', undefined, 'neutral');
  const cc = renderAddresses(action.cc, scope, 'cc');
  const replyTo = action.reply_to === undefined ? [] : mailboxes(renderLine(action.reply_to, scope, 'reply_to'), 'reply_to', true);
  const [from] = mailboxes(renderLine(action.from, scope, 'from'), 'from', true);
  if (from === undefined) throw permanent(ErrorType.InvalidAction, 'email from: rendered empty', undefined, 'neutral');
  const subject = renderLine(action.subject, scope, 'subject');
  const text = renderField(action.body, scope, 'email body');

  const user = smtp.user_env ? at.secrets.resolve(smtp.user_env, 'SMTP user') : undefined;
  const pass = smtp.password_env ? at.secrets.resolve(smtp.password_env, 'SMTP password') : undefined;
  if (user !== undefined) at.secrets.rememberLogin(user, pass ?? '');
  const display = `SMTP ${smtp.host}:${smtp.port}`;
  // The same policy as webhooks: a private SMTP host needs an ssrf.allow entry; connect to the checked address.
  const checked = await rt.guard.checkHost(smtp.host, smtp.port, display);
  const address = checked.addresses[0]?.address ?? checked.hostname;
  const timeout = actionTimeoutMs(action);
  const options: SmtpTransportOptions = {
    host: address,
    port: smtp.port,
    secure: smtp.secure ?? smtp.port === 465,
    auth: user !== undefined ? { user, pass: pass ?? '' } : undefined,
    ...(address !== checked.hostname ? { tls: { servername: checked.hostname } } : {}),
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
  };
  const domain = /@([^>\s]+)$/.exec(from.address)?.[1] ?? 'fraiseql-observers.invalid';
  const messageId = `<${createHash('sha256').update(`${event.id}:${action.key}`).digest('hex').slice(0, 32)}@${domain}>`;

  const info = await rt.breaker.run(
    smtpTarget(smtp.host, smtp.port),
    async () => {
      try {
        return await rt.smtpFor(options).sendMail({
          from,
          to,
          cc: cc.length > 0 ? cc : undefined,
          replyTo: replyTo[0],
          subject,
          text,
          messageId,
          headers: { 'X-FraiseQL-Event-Id': event.id, 'X-FraiseQL-Action-Key': action.key },
        });
      } catch (err) {
        throw smtpError(err, display);
      }
    },
    { until: at.waitUntil, heartbeat: at.heartbeat, signal: at.signal },
  );
  const addresses = (list: unknown): string[] =>
    Array.isArray(list) ? list.map((a) => (typeof a === 'string' ? a : String((a as { address?: unknown }).address))) : [];
  return { type: 'email', key: action.key, message_id: String(info.messageId ?? messageId), accepted: addresses(info.accepted), rejected: addresses(info.rejected) };
}

function smtpError(err: unknown, display: string) {
  const { responseCode, code } = err as { responseCode?: unknown; code?: unknown };
  const text = `${display}: ${messageOf(err)}`;
  if (typeof responseCode === 'number' && responseCode >= 500) return permanent(ErrorType.SmtpRejected, text);
  if (typeof code === 'string' && PERMANENT_CODES.has(code) && !(typeof responseCode === 'number' && responseCode < 500)) {
    return permanent(ErrorType.SmtpRejected, text);
  }
  return transient(ErrorType.SmtpError, text);
}

/**
 * Secret resolution for one activity attempt. Every value resolved through a scope is remembered,
 * with the forms a remote end may echo it in, so that anything leaving the activity (failure
 * messages, log lines) is scrubbed of it wherever the message was built.
 */
import { ErrorType, permanent } from './errors';

const REDACTED = '[redacted]';
/** Shorter values would redact ordinary words; such secrets are too weak to matter anyway. */
const MIN_SCRUB_LENGTH = 4;
/** A URL part shorter than this is not a secret on its own (`services`, a workspace id). */
const MIN_URL_PART_LENGTH = 10;

/** Resolves secrets named in action config and scrubs them from outgoing text. */
export class SecretScope {
  private readonly values = new Set<string>();

  constructor(private readonly env: Record<string, string | undefined>) {}

  /**
   * Returns the value of environment variable `name`; `what` describes it in the error raised when
   * it is unset (the error names the variable, never a value).
   */
  resolve(name: string, what: string): string {
    if (typeof name !== 'string' || name.trim() === '') {
      throw permanent(ErrorType.InvalidAction, `${what}: no environment variable name configured`);
    }
    const value = this.env[name];
    if (value === undefined || value === '') {
      throw permanent(ErrorType.MissingSecret, `${what}: environment variable ${name} is not set`);
    }
    this.remember(value);
    return value;
  }

  /**
   * Marks a value as secret: the value itself, its URL, base64 and hex encodings and, for a URL,
   * each long enough part of its path, query and userinfo (a receiver may echo a token alone).
   */
  remember(value: string): void {
    if (value.length < MIN_SCRUB_LENGTH) return;
    for (const form of encodings(value)) this.values.add(form);
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) && URL.canParse(value)) {
      const url = new URL(value);
      const parts = [url.username, url.password, ...url.pathname.split('/'), ...url.search.slice(1).split(/[&=]/)];
      for (const part of parts) {
        const decoded = safeDecode(part);
        if (decoded.length >= MIN_URL_PART_LENGTH) for (const form of [part, ...encodings(decoded)]) this.values.add(form);
      }
      if ((url.pathname + url.search).length >= MIN_URL_PART_LENGTH) this.values.add(url.pathname + url.search);
    }
  }

  /**
   * Marks an SMTP login as secret, including the base64 forms AUTH PLAIN and AUTH LOGIN put on the
   * wire (servers echo them in error replies).
   */
  rememberLogin(user: string, pass: string): void {
    this.remember(user);
    this.remember(pass);
    const plain = Buffer.from(`\u0000${user}\u0000${pass}`).toString('base64');
    this.values.add(plain);
    this.values.add(Buffer.from(`${user}\u0000${user}\u0000${pass}`).toString('base64'));
  }

  /** Replaces every remembered secret in `text`. */
  scrub(text: string): string {
    let out = text;
    // Longest first, so a secret containing another is removed whole.
    for (const value of [...this.values].sort((a, b) => b.length - a.length)) {
      if (out.includes(value)) out = out.split(value).join(REDACTED);
    }
    return out;
  }
}

function encodings(value: string): string[] {
  const bytes = Buffer.from(value);
  const base64 = bytes.toString('base64');
  return [value, encodeURIComponent(value), base64, base64.replace(/=+$/, ''), bytes.toString('base64url'), bytes.toString('hex'), JSON.stringify(value).slice(1, -1)];
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

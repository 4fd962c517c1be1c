/**
 * Secret resolution for one activity attempt. Every value resolved through a scope is remembered so
 * that anything leaving the activity (failure messages, log lines) can be scrubbed of it.
 */
import { ErrorType, permanent } from './errors';

const REDACTED = '[redacted]';
/** Shorter values would redact ordinary words; such secrets are too weak to matter anyway. */
const MIN_SCRUB_LENGTH = 4;

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

  /** Marks a derived value (a URL path, a decoded key) as secret too. */
  remember(value: string): void {
    if (value.length >= MIN_SCRUB_LENGTH) {
      this.values.add(value);
      const encoded = encodeURIComponent(value);
      if (encoded !== value) this.values.add(encoded);
    }
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

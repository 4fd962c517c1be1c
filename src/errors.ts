/**
 * The root of the project's own error classes, so callers can tell "ours, with a clear message"
 * from an unexpected failure with one `instanceof` check, and so the underlying error is never lost.
 */
export class ObserversError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    // Subclasses get their own name without repeating this line in each of them.
    this.name = new.target.name;
  }
}

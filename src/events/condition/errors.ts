import { ObserversError } from '../../errors';

/** A condition that cannot be parsed; `column` is 1-based within the condition text. */
export class ConditionSyntaxError extends ObserversError {
  constructor(
    message: string,
    readonly column: number,
  ) {
    super(message);
  }
}

/**
 * A condition that parsed but cannot be evaluated for one event (a missing field, `field_changed`
 * without a pre-image, a type mismatch). FraiseQL skips the observer for that event and records
 * the reason instead of treating it as `false`, so an observer never silently stops firing.
 */
export class ConditionEvalError extends ObserversError {
  constructor(
    message: string,
    readonly column: number | null = null,
  ) {
    super(message);
  }
}

/**
 * Describes an offset in the condition text: "column 14", or "line 2, column 3" when the
 * condition spans several lines (YAML block scalars do that).
 */
export function describePosition(source: string, offset: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < source.length; i++) {
    if (source[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  const column = offset - lineStart + 1;
  return line === 1 && !source.includes('\n') ? `column ${column}` : `line ${line}, column ${column}`;
}

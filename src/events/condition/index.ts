import { compileNode, type ConditionSubject } from './evaluate';
import { parseCondition } from './parser';

export { ConditionEvalError, ConditionSyntaxError } from './errors';
export { parseCondition, type ConditionNode } from './parser';
export { jsonEqual, type ConditionSubject } from './evaluate';

/** A condition ready to run: call it with an event; it returns true/false or throws ConditionEvalError. */
export interface CompiledCondition {
  (subject: ConditionSubject): boolean;
  /** The condition text as written in the observers file. */
  readonly source: string;
}

/**
 * Parses and compiles a FraiseQL condition once (at config load).
 *
 * @throws ConditionSyntaxError with a 1-based column when the text does not parse.
 */
export function compileCondition(source: string): CompiledCondition {
  const evaluate = compileNode(source, parseCondition(source));
  return Object.assign((subject: ConditionSubject) => evaluate(subject), { source });
}

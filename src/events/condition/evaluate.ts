import type { ChangeEvent } from '../types';
import { ConditionEvalError, describePosition } from './errors';
import type { CompareOp, ConditionNode, FieldRef, Literal, PathScope } from './parser';

/** The part of an event a condition may read. */
export type ConditionSubject = Pick<ChangeEvent, 'data' | 'before' | 'updatedFields'>;

type Evaluator = (subject: ConditionSubject) => unknown;

const MISSING: unique symbol = Symbol('missing');
const hasOwn = (o: object, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);

/**
 * Turns a parsed condition into a closure tree once, so matching an event costs only the
 * comparisons themselves. The returned function throws {@link ConditionEvalError} when the
 * condition cannot be decided for an event.
 */
export function compileNode(source: string, root: ConditionNode): (subject: ConditionSubject) => boolean {
  const at = (offset: number): string => describePosition(source, offset);
  const fail = (offset: number, message: string): never => {
    throw new ConditionEvalError(`${message} (at ${at(offset)})`, offset + 1);
  };

  const asBoolean = (node: ConditionNode, value: unknown): boolean => {
    if (typeof value === 'boolean') return value;
    return fail(node.offset, `expected true or false, got ${describeValue(value)}`);
  };

  const build = (node: ConditionNode): Evaluator => {
    switch (node.type) {
      case 'literal': {
        const value = node.value;
        return () => value;
      }
      case 'path': {
        const { scope, segments, text } = node;
        return (subject) => {
          const image = imageOf(subject, scope);
          if (image === null) return fail(node.offset, `${text} needs the pre-image (object_data_before), which this event does not have`);
          const value = lookup(image, segments);
          if (value === MISSING) return fail(node.offset, `field '${text}' is missing from the ${imageName(scope)}; test it with has_field('${text}')`);
          return value;
        };
      }
      case 'not': {
        const operand = build(node.operand);
        return (subject) => !asBoolean(node.operand, operand(subject));
      }
      case 'and': {
        const left = build(node.left);
        const right = build(node.right);
        return (subject) => asBoolean(node.left, left(subject)) && asBoolean(node.right, right(subject));
      }
      case 'or': {
        const left = build(node.left);
        const right = build(node.right);
        return (subject) => asBoolean(node.left, left(subject)) || asBoolean(node.right, right(subject));
      }
      case 'compare': {
        const left = build(node.left);
        const right = build(node.right);
        const op = node.op;
        return (subject) => compare(op, left(subject), right(subject), (message) => fail(node.offset, message));
      }
      case 'call':
        return buildCall(node, fail);
    }
  };

  const evaluate = build(root);
  return (subject) => asBoolean(root, evaluate(subject));
}

function buildCall(node: Extract<ConditionNode, { type: 'call' }>, fail: (offset: number, message: string) => never): Evaluator {
  const { field, value } = node;
  const call = `${node.fn}('${field.text}'${node.fn === 'field_changed_to' || node.fn === 'field_changed_from' ? `, ${describeLiteral(value)}` : ''})`;
  const needPreImage = (): never =>
    fail(node.offset, `${call} needs the pre-image (object_data_before), which this event does not have`);

  switch (node.fn) {
    case 'has_field':
      return (subject) => {
        const image = imageOf(subject, field.scope);
        return image !== null && lookup(image, field.segments) !== MISSING;
      };
    case 'field_changed':
      return (subject) => changed(subject, field) ?? needPreImage();
    case 'field_changed_to':
      return (subject) => {
        const isChanged = changed(subject, field) ?? needPreImage();
        return isChanged && jsonEqual(lookup(subject.data, field.segments), value);
      };
    case 'field_changed_from':
      return (subject) => {
        // updated_fields alone says a field changed but not what it was, so the pre-image is required.
        if (subject.before === null) return needPreImage();
        return changed(subject, field) === true && jsonEqual(lookup(subject.before, field.segments), value);
      };
  }
}

/** Whether a field changed, or null when the event cannot tell (no pre-image, no updated_fields). */
function changed(subject: ConditionSubject, field: FieldRef): boolean | null {
  if (subject.before !== null) {
    const before = lookup(subject.before, field.segments);
    const after = lookup(subject.data, field.segments);
    return !jsonEqual(before, after);
  }
  // Producers without a pre-image may still list changed top-level fields; nested paths stay unknown.
  if (subject.updatedFields !== null && field.segments.length === 1) return subject.updatedFields.includes(field.segments[0] as string);
  return null;
}

function imageOf(subject: ConditionSubject, scope: PathScope): Record<string, unknown> | null {
  return scope === 'old' ? subject.before : subject.data;
}

function imageName(scope: PathScope): string {
  return scope === 'old' ? 'pre-image' : 'event data';
}

function lookup(image: unknown, segments: readonly string[]): unknown {
  let current: unknown = image;
  for (const segment of segments) {
    if (Array.isArray(current)) {
      // Only real indices: "length" or "constructor" must not reach through to JS internals.
      if (!/^[0-9]+$/.test(segment) || Number(segment) >= current.length) return MISSING;
      current = current[Number(segment)];
    } else if (current !== null && typeof current === 'object' && hasOwn(current, segment)) {
      current = (current as Record<string, unknown>)[segment];
    } else {
      return MISSING;
    }
  }
  return current;
}

function compare(op: CompareOp, left: unknown, right: unknown, fail: (message: string) => never): boolean {
  if (op === '==') return jsonEqual(left, right);
  if (op === '!=') return !jsonEqual(left, right);
  const comparable =
    (typeof left === 'number' && typeof right === 'number') || (typeof left === 'string' && typeof right === 'string');
  if (!comparable) return fail(`cannot order ${describeValue(left)} and ${describeValue(right)} with '${op}'`);
  const l = left as number | string;
  const r = right as number | string;
  switch (op) {
    case '<':
      return l < r;
    case '<=':
      return l <= r;
    case '>':
      return l > r;
    case '>=':
      return l >= r;
  }
}

/** Structural equality of JSON values: no coercion, so '1' != 1 and null != false. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === MISSING || b === MISSING) return false;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  }
  const ak = Object.keys(a);
  const bk = Object.keys(b);
  if (ak.length !== bk.length) return false;
  return ak.every((k) => hasOwn(b, k) && jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function describeLiteral(value: Literal): string {
  return typeof value === 'string' ? `'${value}'` : String(value);
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return `the string '${value.length > 40 ? `${value.slice(0, 40)}…` : value}'`;
  if (typeof value === 'number' || typeof value === 'boolean') return `the ${typeof value} ${String(value)}`;
  if (Array.isArray(value)) return 'a list';
  return 'an object';
}

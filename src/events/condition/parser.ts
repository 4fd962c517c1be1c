import { syntaxError, tokenize, type Token, type TokenKind } from './lexer';
import { ConditionSyntaxError } from './errors';

/** Which image a field path reads: `data` (after-image, or pre-image for DELETE), `old.` or `new.`. */
export type PathScope = 'data' | 'old' | 'new';
export type Literal = string | number | boolean | null;
export type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=';
export type FunctionName = 'has_field' | 'field_changed' | 'field_changed_to' | 'field_changed_from';

/** Every node keeps its 0-based offset so evaluation errors can point at the sub-expression. */
export type ConditionNode =
  | { type: 'literal'; value: Literal; offset: number }
  | { type: 'path'; scope: PathScope; segments: string[]; text: string; offset: number }
  | { type: 'not'; operand: ConditionNode; offset: number }
  | { type: 'and' | 'or'; left: ConditionNode; right: ConditionNode; offset: number }
  | { type: 'compare'; op: CompareOp; left: ConditionNode; right: ConditionNode; offset: number }
  | { type: 'call'; fn: FunctionName; field: FieldRef; value: Literal; offset: number };

/** A field named by a function argument ('customer.tier', 'old.status'). */
export interface FieldRef {
  scope: PathScope;
  segments: string[];
  text: string;
}

const FUNCTIONS: Readonly<Record<FunctionName, { arity: 1 | 2; dataOnly: boolean }>> = {
  has_field: { arity: 1, dataOnly: false },
  field_changed: { arity: 1, dataOnly: true },
  field_changed_to: { arity: 2, dataOnly: true },
  field_changed_from: { arity: 2, dataOnly: true },
};
const FUNCTION_NAMES = Object.keys(FUNCTIONS).join(', ');
const COMPARE_OPS: ReadonlySet<TokenKind> = new Set(['==', '!=', '<', '<=', '>', '>=']);
const SEGMENT = /^(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+)$/;

/**
 * Parses a FraiseQL condition into a tree. Precedence, loosest first: `||`, `&&`, comparisons
 * (not chainable), `!`. Throws {@link ConditionSyntaxError} naming the 1-based column.
 */
export function parseCondition(source: string): ConditionNode {
  if (source.trim() === '') throw new ConditionSyntaxError('the condition is empty', 1);
  const parser = new Parser(source, tokenize(source));
  const node = parser.parseOr();
  parser.expectEnd();
  requireBoolean(source, node);
  return node;
}

class Parser {
  private pos = 0;

  constructor(
    private readonly source: string,
    private readonly tokens: Token[],
  ) {}

  parseOr(): ConditionNode {
    let left = this.parseAnd();
    while (this.peek().kind === '||') {
      const op = this.next();
      const right = this.parseAnd();
      requireBoolean(this.source, left);
      requireBoolean(this.source, right);
      left = { type: 'or', left, right, offset: op.offset };
    }
    return left;
  }

  expectEnd(): void {
    const token = this.peek();
    if (token.kind !== 'eof') throw this.unexpected(token);
  }

  private parseAnd(): ConditionNode {
    let left = this.parseComparison();
    while (this.peek().kind === '&&') {
      const op = this.next();
      const right = this.parseComparison();
      requireBoolean(this.source, left);
      requireBoolean(this.source, right);
      left = { type: 'and', left, right, offset: op.offset };
    }
    return left;
  }

  private parseComparison(): ConditionNode {
    const left = this.parseUnary();
    if (!COMPARE_OPS.has(this.peek().kind)) return left;
    const op = this.next();
    const right = this.parseUnary();
    const extra = this.peek();
    if (COMPARE_OPS.has(extra.kind)) {
      throw syntaxError(this.source, extra.offset, `unexpected token '${extra.text}'`, 'comparisons cannot be chained; join them with && or ||');
    }
    return { type: 'compare', op: op.kind as CompareOp, left, right, offset: op.offset };
  }

  private parseUnary(): ConditionNode {
    const token = this.peek();
    if (token.kind === '!') {
      this.next();
      const operand = this.parseUnary();
      requireBoolean(this.source, operand);
      return { type: 'not', operand, offset: token.offset };
    }
    return this.parsePrimary();
  }

  private parsePrimary(): ConditionNode {
    const token = this.next();
    switch (token.kind) {
      case 'string':
      case 'number':
        return { type: 'literal', value: token.value as string | number, offset: token.offset };
      case '-': {
        const number = this.expect('number');
        return { type: 'literal', value: -(number.value as number), offset: token.offset };
      }
      case 'true':
      case 'false':
        return { type: 'literal', value: token.kind === 'true', offset: token.offset };
      case 'null':
        return { type: 'literal', value: null, offset: token.offset };
      case '(': {
        const inner = this.parseOr();
        this.expect(')');
        return inner;
      }
      case 'ident':
        return this.peek().kind === '(' ? this.parseCall(token) : this.parsePath(token);
      default:
        throw this.unexpected(token);
    }
  }

  private parsePath(first: Token): ConditionNode {
    const segments = [first.text];
    let end = first.offset + first.text.length;
    while (this.peek().kind === '.') {
      this.next();
      const segment = this.next();
      if (segment.kind !== 'ident' && segment.kind !== 'number' && !isKeyword(segment.kind)) {
        throw this.unexpected(segment, 'expected a field name after \'.\'');
      }
      segments.push(segment.text);
      end = segment.offset + segment.text.length;
    }
    const text = this.source.slice(first.offset, end);
    const ref = toFieldRef(segments, text);
    if (ref === null) {
      throw syntaxError(this.source, first.offset, `'${first.text}' must be followed by '.' and a field name`, `e.g. ${first.text}.status`);
    }
    return { type: 'path', ...ref, offset: first.offset };
  }

  private parseCall(name: Token): ConditionNode {
    this.next();
    const spec = (FUNCTIONS as Record<string, (typeof FUNCTIONS)[FunctionName] | undefined>)[name.text];
    if (spec === undefined) {
      throw syntaxError(this.source, name.offset, `unknown function '${name.text}'`, `expected one of ${FUNCTION_NAMES}`);
    }
    const fn = name.text as FunctionName;
    const args: Array<{ value: Literal; token: Token }> = [];
    if (this.peek().kind !== ')') {
      for (;;) {
        const start = this.peek();
        const arg = this.parsePrimary();
        if (arg.type !== 'literal') {
          const expected = args.length === 0 ? "a quoted field name, e.g. 'status'" : 'a literal value';
          throw syntaxError(this.source, start.offset, `${fn} argument ${args.length + 1} must be ${expected}`);
        }
        args.push({ value: arg.value, token: start });
        if (this.peek().kind !== ',') break;
        this.next();
      }
    }
    this.expect(')');
    if (args.length !== spec.arity) {
      const plural = spec.arity === 1 ? 'argument' : 'arguments';
      throw syntaxError(this.source, name.offset, `${fn} expects ${spec.arity} ${plural}, got ${args.length}`);
    }
    const [fieldArg, valueArg] = args as [{ value: Literal; token: Token }, { value: Literal } | undefined];
    if (typeof fieldArg.value !== 'string') {
      throw syntaxError(this.source, fieldArg.token.offset, `${fn} argument 1 must be a quoted field name, e.g. 'status'`);
    }
    const segments = fieldArg.value.split('.');
    const ref = segments.every((s) => SEGMENT.test(s)) ? toFieldRef(segments, fieldArg.value) : null;
    if (ref === null) throw syntaxError(this.source, fieldArg.token.offset, `invalid field name '${fieldArg.value}'`);
    if (spec.dataOnly && ref.scope !== 'data') {
      throw syntaxError(this.source, fieldArg.token.offset, `${fn} compares old and new itself; name the field without '${ref.scope}.'`);
    }
    return { type: 'call', fn, field: ref, value: valueArg?.value ?? null, offset: name.offset };
  }

  private peek(): Token {
    return this.tokens[this.pos] as Token;
  }

  private next(): Token {
    const token = this.peek();
    if (token.kind !== 'eof') this.pos++;
    return token;
  }

  private expect(kind: TokenKind): Token {
    const token = this.next();
    if (token.kind !== kind) throw this.unexpected(token, `expected '${kind === 'number' ? 'a number' : kind}'`);
    return token;
  }

  private unexpected(token: Token, hint?: string): ConditionSyntaxError {
    if (token.kind === 'eof') return syntaxError(this.source, token.offset, 'unexpected end of condition', hint);
    return syntaxError(this.source, token.offset, `unexpected token '${token.text}'`, hint);
  }
}

function isKeyword(kind: TokenKind): boolean {
  return kind === 'true' || kind === 'false' || kind === 'null';
}

/** `old`/`new` are reserved prefixes; a bare `old` or `new` names no field. */
function toFieldRef(segments: string[], text: string): FieldRef | null {
  const [head, ...rest] = segments;
  if (head === 'old' || head === 'new') return rest.length === 0 ? null : { scope: head, segments: rest, text };
  return { scope: 'data', segments, text };
}

/** Literals other than true/false cannot stand where a condition needs a boolean; say so at load. */
function requireBoolean(source: string, node: ConditionNode): void {
  if (node.type === 'literal' && typeof node.value !== 'boolean') {
    const shown = typeof node.value === 'string' ? `'${node.value}'` : String(node.value);
    throw syntaxError(source, node.offset, `expected a condition but found the value ${shown}`);
  }
}

import { ConditionSyntaxError, describePosition } from './errors';

export type TokenKind =
  | 'ident'
  | 'string'
  | 'number'
  | 'true'
  | 'false'
  | 'null'
  | '=='
  | '!='
  | '<'
  | '<='
  | '>'
  | '>='
  | '&&'
  | '||'
  | '!'
  | '('
  | ')'
  | ','
  | '.'
  | '-'
  | 'eof';

export interface Token {
  kind: TokenKind;
  /** The source text of the token (for error messages). */
  text: string;
  /** Decoded value of string and number literals. */
  value?: string | number;
  /** 0-based offset into the condition text. */
  offset: number;
}

const KEYWORDS: ReadonlySet<string> = new Set(['true', 'false', 'null']);
const ESCAPES: Readonly<Record<string, string>> = { '\\': '\\', "'": "'", '"': '"', n: '\n', t: '\t', r: '\r', '/': '/' };
const TWO_CHAR_OPS: ReadonlySet<string> = new Set(['==', '!=', '<=', '>=', '&&', '||']);
const ONE_CHAR_OPS: ReadonlySet<string> = new Set(['<', '>', '!', '(', ')', ',', '.']);
// Characters that commonly appear by mistake, with the operator the user most likely meant.
const HINTS: Readonly<Record<string, string>> = { '=': '==', '&': '&&', '|': '||' };

const isIdentStart = (c: string): boolean => /[A-Za-z_]/.test(c);
const isIdentPart = (c: string): boolean => /[A-Za-z0-9_]/.test(c);
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/** Error helper that names the position the way every condition error does. */
export function syntaxError(source: string, offset: number, message: string, hint?: string): ConditionSyntaxError {
  const suffix = hint === undefined ? '' : ` (${hint})`;
  return new ConditionSyntaxError(`${message} at ${describePosition(source, offset)}${suffix}`, offset + 1);
}

/** Splits a condition into tokens, ending with an `eof` token positioned just past the text. */
export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i] as string;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const start = i;
    const two = source.slice(i, i + 2);
    if (TWO_CHAR_OPS.has(two)) {
      tokens.push({ kind: two as TokenKind, text: two, offset: start });
      i += 2;
    } else if (c === "'" || c === '"') {
      const { value, end } = readString(source, i);
      tokens.push({ kind: 'string', text: source.slice(start, end), value, offset: start });
      i = end;
    } else if (isDigit(c)) {
      // After a '.', digits are an array index in a path (items.0.sku), never a decimal number.
      const afterDot = tokens[tokens.length - 1]?.kind === '.';
      const match = afterDot ? /^[0-9]+/.exec(source.slice(i)) : /^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(source.slice(i));
      const text = (match as RegExpExecArray)[0];
      tokens.push({ kind: 'number', text, value: Number(text), offset: start });
      i += text.length;
    } else if (isIdentStart(c)) {
      while (i < source.length && isIdentPart(source[i] as string)) i++;
      const text = source.slice(start, i);
      tokens.push({ kind: KEYWORDS.has(text) ? (text as TokenKind) : 'ident', text, offset: start });
    } else if (ONE_CHAR_OPS.has(c)) {
      tokens.push({ kind: c as TokenKind, text: c, offset: start });
      i++;
    } else if (c === '-' && isDigit(source[i + 1])) {
      tokens.push({ kind: '-', text: c, offset: start });
      i++;
    } else {
      const hint = HINTS[c];
      throw syntaxError(source, start, `unexpected token '${c}'`, hint === undefined ? undefined : `did you mean '${hint}'?`);
    }
  }
  tokens.push({ kind: 'eof', text: '', offset: source.length });
  return tokens;
}

function readString(source: string, start: number): { value: string; end: number } {
  const quote = source[start];
  let value = '';
  let i = start + 1;
  while (i < source.length) {
    const c = source[i] as string;
    if (c === quote) return { value, end: i + 1 };
    if (c === '\\') {
      const next = source[i + 1];
      if (next === undefined) break;
      if (next === 'u') {
        const hex = source.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw syntaxError(source, i, `invalid escape '\\u${hex}'`);
        value += String.fromCharCode(parseInt(hex, 16));
        i += 6;
        continue;
      }
      const decoded = ESCAPES[next];
      if (decoded === undefined) throw syntaxError(source, i, `invalid escape '\\${next}'`);
      value += decoded;
      i += 2;
      continue;
    }
    value += c;
    i++;
  }
  throw syntaxError(source, start, 'unterminated string starting');
}

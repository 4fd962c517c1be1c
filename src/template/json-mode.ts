/**
 * JSON mode: a template whose literal text is JSON (a webhook body) gets every interpolated value
 * encoded for where it lands. Inside a JSON string a value is string-escaped; outside one it is
 * written as a JSON value (a string quoted, a missing value `null`). So `{"name": "{{ data.name }}"}`
 * cannot be broken out of by a name containing `", "role": "admin`, and `{"s": {{ data.missing }}}`
 * is `{"s": null}`, never `{"s": }`.
 *
 * How: each output is replaced by a marker while Liquid renders, then the markers are substituted
 * by a scan that knows whether it stands inside a string. The markers use private-use characters,
 * which a template's literal text may not contain.
 */

const OPEN = '\uE000';
const CLOSE = '\uE001';
const MARKER = /\uE000(\d+)\uE001/y;

/** A value already turned into JSON by the `json` filter; written as that JSON, never quoted again. */
export class JsonValue {
  constructor(readonly value: unknown) {}
}

/** Collects the values of one render (rendering is synchronous, so one collector at a time). */
export class JsonOutputs {
  private readonly values: unknown[] = [];

  /** The `outputEscape` of the JSON engine: stores the value, writes its marker. */
  readonly escape = (value: unknown): string => {
    if (typeof value === 'string' && value.includes(OPEN)) {
      throw new Error('a captured output cannot be written again in a JSON template; write the event value directly');
    }
    this.values.push(value);
    return `${OPEN}${this.values.length - 1}${CLOSE}`;
  };

  /**
   * Replaces the markers in `rendered` by their encoded values and checks the result is JSON.
   *
   * @throws Error naming what is wrong (invalid JSON at a position, a marker out of place).
   */
  substitute(rendered: string): string {
    let out = '';
    let inString = false;
    for (let i = 0; i < rendered.length; ) {
      const ch = rendered[i] as string;
      if (ch === OPEN) {
        MARKER.lastIndex = i;
        const m = MARKER.exec(rendered);
        const index = m === null ? Number.NaN : Number(m[1]);
        if (m === null || index >= this.values.length) throw new Error('the rendered text holds a stray marker character (U+E000)');
        out += inString ? inStringText(this.values[index]) : valueText(this.values[index]);
        i += m[0].length;
        continue;
      }
      if (inString && ch === '\\') {
        out += rendered.slice(i, i + 2);
        i += 2;
        continue;
      }
      if (ch === '"') inString = !inString;
      out += ch;
      i++;
    }
    try {
      JSON.parse(out);
    } catch (err) {
      throw new Error(`the rendered text is not valid JSON (${(err as Error).message})`);
    }
    return out;
  }
}

/** Whether literal template text holds a marker character (refused: it would be taken for an output). */
export function hasMarkerCharacters(source: string): boolean {
  return source.includes(OPEN) || source.includes(CLOSE);
}

function valueText(value: unknown): string {
  const v = value instanceof JsonValue ? value.value : value;
  return JSON.stringify(v === undefined ? null : v) ?? 'null';
}

function inStringText(value: unknown): string {
  let text: string;
  if (value instanceof JsonValue) text = JSON.stringify(value.value === undefined ? null : value.value) ?? 'null';
  else if (value === undefined || value === null) text = '';
  else if (typeof value === 'object') text = JSON.stringify(value) ?? '';
  else text = String(value);
  return JSON.stringify(text).slice(1, -1);
}

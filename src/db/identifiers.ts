/** Quoting of SQL identifiers and literals for the few statements whose names are configurable. */

/** A schema-qualified relation name as given in configuration. */
export interface QualifiedName {
  schema: string | null;
  name: string;
}

/** Double-quote an identifier, doubling embedded quotes, so any configured name is safe in SQL text. */
export function quoteIdent(id: string): string {
  return `"${id.replace(/"/g, '""')}"`;
}

/** Single-quote a string literal (standard_conforming_strings is on in every supported server). */
export function quoteLiteral(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/**
 * Parse `schema.table`, `table`, or quoted parts (`"My Schema"."t"`). Unquoted parts are folded
 * to lower case as PostgreSQL does.
 */
export function parseQualifiedName(input: string): QualifiedName {
  const parts: string[] = [];
  let i = 0;
  const s = input.trim();
  while (i < s.length) {
    if (s[i] === '"') {
      let out = '';
      i++;
      for (;;) {
        if (i >= s.length) throw new Error(`Unterminated quoted identifier in table name ${JSON.stringify(input)}`);
        if (s[i] === '"') {
          if (s[i + 1] === '"') { out += '"'; i += 2; continue; }
          i++;
          break;
        }
        out += s[i];
        i++;
      }
      parts.push(out);
    } else {
      const end = s.indexOf('.', i);
      const raw = end === -1 ? s.slice(i) : s.slice(i, end);
      if (!/^[A-Za-z_][A-Za-z0-9_$]*$/.test(raw)) throw new Error(`Invalid table name ${JSON.stringify(input)}`);
      parts.push(raw.toLowerCase());
      i += raw.length;
    }
    if (i < s.length) {
      if (s[i] !== '.') throw new Error(`Invalid table name ${JSON.stringify(input)}`);
      i++;
    }
  }
  if (parts.length === 1) return { schema: null, name: parts[0]! };
  if (parts.length === 2) return { schema: parts[0]!, name: parts[1]! };
  throw new Error(`Table name ${JSON.stringify(input)} must be "table" or "schema.table"`);
}

/** The quoted SQL form of a qualified name (`"core"."tb_entity_change_log"`). */
export function quoteQualified(q: QualifiedName): string {
  return q.schema === null ? quoteIdent(q.name) : `${quoteIdent(q.schema)}.${quoteIdent(q.name)}`;
}

/** Human form without quotes unless needed, for logs and migration keys. */
export function displayQualified(q: QualifiedName): string {
  const part = (p: string) => (/^[a-z_][a-z0-9_$]*$/.test(p) ? p : quoteIdent(p));
  return q.schema === null ? part(q.name) : `${part(q.schema)}.${part(q.name)}`;
}

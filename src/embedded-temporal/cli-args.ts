/** Parsing of `--search-attribute Name=Type` flags (the `temporal server start-dev` form). */
import { type SearchAttributeType } from './visibility-query';

const TYPES: Record<string, SearchAttributeType> = {
  keyword: 'Keyword', keywordlist: 'KeywordList', text: 'Text', int: 'Int', double: 'Double', bool: 'Bool', datetime: 'Datetime',
};

/** `Name=Type` → [name, type]; throws a message naming the bad flag value. */
export function parseSearchAttributeFlag(v: string): [string, SearchAttributeType] {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)=([A-Za-z]+)$/.exec(v);
  if (!m) throw new Error(`--search-attribute expects Name=Type, got '${v}'`);
  const type = TYPES[m[2]!.toLowerCase()];
  if (!type) throw new Error(`--search-attribute ${v}: unknown type '${m[2]}' (expected one of ${Object.values(TYPES).join(', ')})`);
  return [m[1]!, type];
}

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { checkSchemaName, DEFAULT_STORE_SCHEMA, MIGRATION_HEADER, storeSchemaSql } from '../../src/embedded-temporal/store/schema';

describe('durable store schema', () => {
  it('ships the same DDL as a migration that the server runs itself on an empty store', () => {
    const file = readFileSync(path.resolve(__dirname, '../../migrations/006_embedded_temporal_store.sql'), 'utf8');
    expect(file).toBe(MIGRATION_HEADER + storeSchemaSql(DEFAULT_STORE_SCHEMA));
  });

  it('rejects a schema name that would need quoting, naming the option', () => {
    expect(() => checkSchemaName('Bad-Name')).toThrow(/persistence\.schema: expected a lower-case SQL identifier.*"Bad-Name"/);
    expect(() => checkSchemaName('x; DROP TABLE y')).toThrow(/persistence\.schema/);
    expect(checkSchemaName('temporal_2')).toBe('temporal_2');
  });
});

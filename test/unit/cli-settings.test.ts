/**
 * The operator commands' settings (src/listener/settings.ts): one resolution for every command,
 * the Temporal address defaulting to where `start` serves its embedded server.
 */
import { resolveCommandSettings, SettingsError } from '../../src/listener/settings';

const DB = { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/app' };

test('without TEMPORAL_ADDRESS, the address follows EMBEDDED_TEMPORAL_PORT, as `start` does', () => {
  expect(resolveCommandSettings({ ...DB, EMBEDDED_TEMPORAL_PORT: '17233' }, {})).toMatchObject({ temporalAddress: '127.0.0.1:17233', temporalAddressSource: 'embedded-port' });
  expect(resolveCommandSettings(DB, {})).toMatchObject({ temporalAddress: '127.0.0.1:7233', temporalAddressSource: 'default' });
  // 0 means "any free port" to `start`: nothing to aim at.
  expect(resolveCommandSettings({ ...DB, EMBEDDED_TEMPORAL_PORT: '0' }, {})).toMatchObject({ temporalAddress: '127.0.0.1:7233', temporalAddressSource: 'default' });
  expect(resolveCommandSettings({ ...DB, EMBEDDED_TEMPORAL_PORT: '17233', TEMPORAL_ADDRESS: 'temporal:7233' }, {})).toMatchObject({ temporalAddress: 'temporal:7233', temporalAddressSource: 'env' });
  expect(resolveCommandSettings({ ...DB, TEMPORAL_ADDRESS: 'temporal:7233' }, { address: 'other:7233' })).toMatchObject({ temporalAddress: 'other:7233', temporalAddressSource: 'flag' });
});

test('a bad value is named by its flag or variable, with the same validator for every command', () => {
  expect(() => resolveCommandSettings({ ...DB, EMBEDDED_TEMPORAL_PORT: 'x' }, {})).toThrow(SettingsError);
  expect(() => resolveCommandSettings(DB, { address: 'nope' })).toThrow("--address: expected host:port, got 'nope'");
  expect(() => resolveCommandSettings({ ...DB, TEMPORAL_ADDRESS: 'nope' }, {})).toThrow("env.TEMPORAL_ADDRESS: expected host:port, got 'nope'");
});

test('a command that does not use the database needs no DATABASE_URL, and ignores a bad one', () => {
  expect(resolveCommandSettings({}, {}, { database: false })).toMatchObject({ databaseUrl: '', temporalAddress: '127.0.0.1:7233' });
  expect(resolveCommandSettings({ DATABASE_URL: 'not a url' }, {}, { database: false }).databaseUrl).toBe('');
  expect(() => resolveCommandSettings({}, {})).toThrow('DATABASE_URL: no database given: pass --database-url or set DATABASE_URL');
});

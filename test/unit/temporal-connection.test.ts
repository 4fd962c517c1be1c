import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describeTemporalSecurity, temporalSecurity, TemporalSecurityError } from '../../src/temporal/connection';

const dir = mkdtempSync(path.join(tmpdir(), 'tls-'));
const cert = path.join(dir, 'client.pem');
const key = path.join(dir, 'client.key');
const ca = path.join(dir, 'ca.pem');
writeFileSync(cert, 'CERT');
writeFileSync(key, 'KEY');
writeFileSync(ca, 'CA');

function error(env: Record<string, string>): string {
  try {
    temporalSecurity(env);
  } catch (err) {
    expect(err).toBeInstanceOf(TemporalSecurityError);
    return (err as Error).message;
  }
  throw new Error('expected a TemporalSecurityError');
}

test('plaintext by default (the embedded server, a local dev cluster)', () => {
  expect(temporalSecurity({})).toEqual({});
  expect(describeTemporalSecurity(temporalSecurity({}))).toBe('plaintext');
});

test('an API key turns TLS on (Temporal Cloud), unless TLS is switched off explicitly', () => {
  expect(temporalSecurity({ TEMPORAL_API_KEY: 'k-123' })).toEqual({ tls: true, apiKey: 'k-123' });
  expect(temporalSecurity({ TEMPORAL_API_KEY: 'k-123', TEMPORAL_TLS: 'false' })).toEqual({ apiKey: 'k-123' });
  expect(describeTemporalSecurity(temporalSecurity({ TEMPORAL_API_KEY: 'k-123' }))).toBe('TLS + API key');
});

test('mutual TLS reads the certificate pair, CA and server name from the files named', () => {
  const s = temporalSecurity({ TEMPORAL_TLS_CERT: cert, TEMPORAL_TLS_KEY: key, TEMPORAL_TLS_CA: ca, TEMPORAL_TLS_SERVER_NAME: 'ns.tmprl.cloud' });
  expect(s.tls).toEqual({ clientCertPair: { crt: Buffer.from('CERT'), key: Buffer.from('KEY') }, serverRootCACertificate: Buffer.from('CA'), serverNameOverride: 'ns.tmprl.cloud' });
  expect(describeTemporalSecurity(s)).toBe('mutual TLS');
  expect(temporalSecurity({ TEMPORAL_TLS: 'yes' })).toEqual({ tls: true });
});

test('bad settings name the variable', () => {
  expect(error({ TEMPORAL_TLS_CERT: cert })).toMatch(/^env\.TEMPORAL_TLS_KEY: required with TEMPORAL_TLS_CERT/);
  expect(error({ TEMPORAL_TLS_KEY: key })).toMatch(/^env\.TEMPORAL_TLS_CERT: required with TEMPORAL_TLS_KEY/);
  expect(error({ TEMPORAL_TLS: 'maybe' })).toMatch(/^env\.TEMPORAL_TLS: expected true or false/);
  expect(error({ TEMPORAL_TLS_CA: path.join(dir, 'missing.pem') })).toMatch(/^env\.TEMPORAL_TLS_CA: cannot read .*missing\.pem \(ENOENT\)/);
  expect(error({ TEMPORAL_TLS: 'false', TEMPORAL_TLS_CA: ca })).toMatch(/^env\.TEMPORAL_TLS: is false/);
});

test('the description never contains the key', () => {
  expect(describeTemporalSecurity(temporalSecurity({ TEMPORAL_API_KEY: 'super-secret-key' }))).not.toContain('super-secret');
});

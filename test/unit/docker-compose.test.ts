/**
 * docker-compose.temporal.yml must register exactly the search attributes the service sets, or a
 * workflow start on that cluster is refused (unknown search attribute).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { SEARCH_ATTRIBUTES } from '../../src/temporal/search-attributes';

interface Compose { services: Record<string, { command?: string[]; ports?: string[] }> }

const compose = parse(readFileSync(path.resolve(__dirname, '../../docker-compose.temporal.yml'), 'utf8')) as Compose;

test('the Temporal dev server registers every search attribute with its type', () => {
  const command = compose.services.temporal?.command ?? [];
  const registered: Record<string, string> = {};
  command.forEach((arg, i) => {
    if (arg === '--search-attribute') {
      const [name, type] = String(command[i + 1]).split('=');
      registered[name!] = type!;
    }
  });
  expect(registered).toEqual(SEARCH_ATTRIBUTES);
});

test('every published port is bound to loopback only', () => {
  const ports = Object.values(compose.services).flatMap((s) => s.ports ?? []);
  expect(ports.length).toBeGreaterThan(0);
  for (const p of ports) expect(p).toMatch(/^127\.0\.0\.1:/);
});

test('PostgreSQL and Redis are not published on the ports the local services (and the tests) use', () => {
  const hostPorts = Object.values(compose.services).flatMap((s) => s.ports ?? []).map((p) => Number(p.split(':')[1]));
  expect(hostPorts).not.toContain(5432);
  expect(hostPorts).not.toContain(6379);
});

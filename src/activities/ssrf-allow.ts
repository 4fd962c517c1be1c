/**
 * `ssrf.allow` entries: what a private destination may be reached at. One parser for the config
 * schema and the guard, so what validates is what the guard enforces.
 *
 *   10.20.0.0/16        every port of a block        10.20.0.0/16:8443     one port of it
 *   127.0.0.1:9000      one port of an address       [::1]:9000, [fd00::/8]:443 (IPv6 in brackets)
 *   billing.internal    a host name, every port      billing.internal:443
 *   *.corp.example      every subdomain              *.corp.example:443
 *
 * Name a port wherever you can: an entry without one opens every service of those hosts
 * (Redis, PostgreSQL, Temporal, metrics) to templated URLs.
 */
import { isIP } from 'node:net';
import { parseCidr } from './ip';

export interface AllowEntry {
  kind: 'cidr' | 'host' | 'suffix';
  /** The CIDR block or address, the lower-case host name, or the suffix with its leading dot. */
  value: string;
  /** The one port allowed; null allows every port. */
  port: number | null;
}

const HOST = /^([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/** The message for an entry that is not one of the forms above. */
export const ALLOW_ENTRY_FORMS = 'expected an address or CIDR range (10.0.0.0/8), a host name or *.domain, optionally with :port (10.0.0.5:8443, [fd00::1]:443, hooks.internal:443)';

/** Parses one entry; null when it is not one of the accepted forms. */
export function parseAllowEntry(raw: string): AllowEntry | null {
  let text = raw.trim().toLowerCase();
  let port: number | null = null;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return null;
    const rest = text.slice(close + 1);
    if (rest !== '') {
      port = parsePort(rest);
      if (port === null) return null;
    }
    text = text.slice(1, close);
    return parseCidr(text) ? { kind: 'cidr', value: text, port } : null;
  }
  // A bare IPv6 address or block has several colons and no port.
  if ((text.match(/:/g) ?? []).length === 1) {
    const cut = text.lastIndexOf(':');
    port = parsePort(text.slice(cut));
    if (port === null) return null;
    text = text.slice(0, cut);
  }
  if (text.includes('/') || isIP(text) !== 0) return parseCidr(text) ? { kind: 'cidr', value: text, port } : null;
  if (text.startsWith('*.')) return HOST.test(text.slice(2)) ? { kind: 'suffix', value: text.slice(1), port } : null;
  while (text.endsWith('.')) text = text.slice(0, -1);
  return HOST.test(text) ? { kind: 'host', value: text, port } : null;
}

function parsePort(text: string): number | null {
  if (!/^:[0-9]{1,5}$/.test(text)) return null;
  const port = Number(text.slice(1));
  return port >= 1 && port <= 65_535 ? port : null;
}

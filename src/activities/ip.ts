/**
 * Pure IP address classification for the SSRF guard: which addresses an outgoing request may reach.
 *
 * The rule is "globally reachable unicast only": everything in the IANA special-purpose registries
 * that is not meant to be reached across the internet is refused, in every IPv6 spelling that can
 * smuggle an IPv4 address (mapped, compatible, translated, NAT64, 6to4).
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface ParsedIp {
  version: 4 | 6;
  /** 4 or 16 bytes, network order. */
  bytes: Uint8Array;
}

export interface IpClass {
  blocked: boolean;
  /** Human label of the range, e.g. `loopback`, `IPv4-mapped private (RFC 1918)`, `public`. */
  range: string;
}

interface Range {
  bytes: Uint8Array;
  prefix: number;
  label: string;
}

/** Parses a textual IPv4 or IPv6 address (brackets and zone ids tolerated); null if it is not one. */
export function parseIp(text: string): ParsedIp | null {
  let s = text.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (isIPv4(s)) return { version: 4, bytes: parseV4(s) };
  if (isIPv6(s)) return { version: 6, bytes: parseV6(s) };
  return null;
}

function parseV4(s: string): Uint8Array {
  return Uint8Array.from(s.split('.').map((p) => Number.parseInt(p, 10)));
}

function parseV6(s: string): Uint8Array {
  const bytes = new Uint8Array(16);
  let text = s;
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    // Trailing dotted quad (::ffff:1.2.3.4) fills the last 32 bits.
    tail = [...parseV4(text.slice(lastColon + 1))];
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [head = '', rest] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const fill = rest === undefined ? 0 : 8 - headGroups.length - restGroups.length;
  const groups = [...headGroups, ...new Array<string>(fill).fill('0'), ...restGroups];
  groups.forEach((g, i) => {
    const v = Number.parseInt(g, 16);
    bytes[i * 2] = v >> 8;
    bytes[i * 2 + 1] = v & 0xff;
  });
  if (tail.length === 4) bytes.set(tail, 12);
  return bytes;
}

/** Formats a parsed address (IPv6 without zero compression; it only appears in messages). */
export function formatIp(ip: ParsedIp): string {
  if (ip.version === 4) return [...ip.bytes].join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((ip.bytes[i] ?? 0) << 8) | (ip.bytes[i + 1] ?? 0)).toString(16));
  return groups.join(':');
}

function range(cidr: string, label: string): Range {
  const parsed = parseCidr(cidr);
  if (!parsed) throw new Error(`bad built-in range ${cidr}`);
  return { bytes: parsed.ip.bytes, prefix: parsed.prefix, label };
}

/** Parses `a.b.c.d/n`, `x::y/n` or a bare address (full-length prefix); null if invalid. */
export function parseCidr(text: string): { ip: ParsedIp; prefix: number } | null {
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!ip) return null;
  const max = ip.version === 4 ? 32 : 128;
  if (slash < 0) return { ip, prefix: max };
  const prefixText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = Number(prefixText);
  return prefix <= max ? { ip, prefix } : null;
}

function inPrefix(bytes: Uint8Array, net: Uint8Array, prefix: number): boolean {
  if (bytes.length !== net.length) return false;
  const full = prefix >> 3;
  for (let i = 0; i < full; i++) if (bytes[i] !== net[i]) return false;
  const bits = prefix & 7;
  if (bits === 0) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  return ((bytes[full] ?? 0) & mask) === ((net[full] ?? 0) & mask);
}

// Order matters: the first match names the range, so specific entries precede their supernets.
const V4_RANGES: Range[] = [
  range('0.0.0.0/8', 'unspecified ("this network")'),
  range('10.0.0.0/8', 'private (RFC 1918)'),
  range('100.64.0.0/10', 'shared address space (CGNAT, RFC 6598)'),
  range('127.0.0.0/8', 'loopback'),
  range('169.254.169.254/32', 'cloud metadata endpoint'),
  range('169.254.0.0/16', 'link-local'),
  range('172.16.0.0/12', 'private (RFC 1918)'),
  range('192.0.0.0/24', 'IETF protocol assignments'),
  range('192.0.2.0/24', 'documentation (TEST-NET-1)'),
  range('192.88.99.0/24', '6to4 relay anycast (deprecated)'),
  range('192.168.0.0/16', 'private (RFC 1918)'),
  range('198.18.0.0/15', 'benchmarking (RFC 2544)'),
  range('198.51.100.0/24', 'documentation (TEST-NET-2)'),
  range('203.0.113.0/24', 'documentation (TEST-NET-3)'),
  range('224.0.0.0/4', 'multicast'),
  range('255.255.255.255/32', 'broadcast'),
  range('240.0.0.0/4', 'reserved'),
];

const V6_RANGES: Range[] = [
  range('::/128', 'unspecified'),
  range('::1/128', 'loopback'),
  range('::ffff:0:0:0/96', 'IPv4-translated (SIIT)'),
  range('::/96', 'IPv4-compatible (deprecated)'),
  range('64:ff9b:1::/48', 'local-use NAT64'),
  range('100::/64', 'discard-only'),
  range('2001:db8::/32', 'documentation'),
  range('2001::/23', 'IETF protocol assignments (Teredo, benchmarking, ORCHID)'),
  range('2002::/16', '6to4 (deprecated)'),
  range('3fff::/20', 'documentation'),
  range('5f00::/16', 'SRv6 SIDs'),
  range('fd00:ec2::254/128', 'cloud metadata endpoint'),
  range('fc00::/7', 'unique local'),
  range('fe80::/10', 'link-local'),
  range('fec0::/10', 'site-local (deprecated)'),
  range('ff00::/8', 'multicast'),
];

const MAPPED = range('::ffff:0:0/96', 'IPv4-mapped');
const NAT64 = range('64:ff9b::/96', 'NAT64');
const GLOBAL_UNICAST_V6 = range('2000::/3', 'global unicast');

/**
 * The IPv4 address an IPv6 address stands for, when connecting to it reaches that IPv4 host
 * (IPv4-mapped or NAT64 well-known prefix); null otherwise.
 */
export function embeddedIpv4(ip: ParsedIp): { ip: ParsedIp; via: string } | null {
  if (ip.version !== 6) return null;
  for (const r of [MAPPED, NAT64]) {
    if (inPrefix(ip.bytes, r.bytes, r.prefix)) return { ip: { version: 4, bytes: ip.bytes.slice(12) }, via: r.label };
  }
  return null;
}

/** Classifies an address (text or parsed); unparsable text is blocked. */
export function classifyIp(address: string | ParsedIp): IpClass {
  const ip = typeof address === 'string' ? parseIp(address) : address;
  if (!ip) return { blocked: true, range: 'not an IP address' };
  if (ip.version === 4) {
    const hit = V4_RANGES.find((r) => inPrefix(ip.bytes, r.bytes, r.prefix));
    return hit ? { blocked: true, range: hit.label } : { blocked: false, range: 'public' };
  }
  const embedded = embeddedIpv4(ip);
  if (embedded) {
    const inner = classifyIp(embedded.ip);
    return { blocked: inner.blocked, range: `${embedded.via} ${inner.range}` };
  }
  const hit = V6_RANGES.find((r) => inPrefix(ip.bytes, r.bytes, r.prefix));
  if (hit) return { blocked: true, range: hit.label };
  if (!inPrefix(ip.bytes, GLOBAL_UNICAST_V6.bytes, GLOBAL_UNICAST_V6.prefix)) {
    return { blocked: true, range: 'reserved (outside 2000::/3)' };
  }
  return { blocked: false, range: 'public' };
}

/** A set of CIDR blocks; IPv6 forms that reach an IPv4 host also match that host's IPv4 blocks. */
export class CidrList {
  private readonly ranges: Range[];

  /** @throws Error naming the first entry that is not an address or CIDR block. */
  constructor(entries: readonly string[]) {
    this.ranges = entries.map((e) => {
      const parsed = parseCidr(e.trim());
      if (!parsed) throw new Error(`not an IP address or CIDR block: ${e}`);
      return { bytes: parsed.ip.bytes, prefix: parsed.prefix, label: e };
    });
  }

  get size(): number {
    return this.ranges.length;
  }

  /** Whether `ip` lies in one of the blocks. */
  has(ip: ParsedIp): boolean {
    const embedded = embeddedIpv4(ip);
    return this.ranges.some(
      (r) => inPrefix(ip.bytes, r.bytes, r.prefix) || (embedded !== null && inPrefix(embedded.ip.bytes, r.bytes, r.prefix)),
    );
  }
}

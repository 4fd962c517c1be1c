/**
 * SSRF guard: decides whether an outgoing URL may be fetched, and pins the connection to the
 * addresses it checked.
 *
 * A host is resolved once; the addresses are classified; the HTTP agent's `lookup` then answers
 * from this guard's pin table instead of asking DNS again, so a rebinding DNS server cannot
 * swap a checked public address for a private one between the check and the connect.
 */
import { promises as dnsPromises, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { ErrorType, messageOf, permanent, transient } from './errors';
import { CidrList, classifyIp, parseIp, type ParsedIp } from './ip';
import { ALLOW_ENTRY_FORMS, parseAllowEntry } from './ssrf-allow';

/** Resolves a host name to all its addresses (the shape of `dns.promises.lookup(h, { all: true })`). */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export interface SsrfOptions {
  /** CIDR blocks (`10.0.0.0/8`, `127.0.0.1`) and host names (`hooks.internal`, `*.corp.example`) to permit, each optionally `:port`. */
  allow: readonly string[];
  /** Default: the system resolver (`dns.lookup`, all addresses). */
  resolve?: Resolver;
  /** How long a checked resolution is reused; default 10 s. 0 resolves on every request. */
  cacheMs?: number;
  clock?: () => number;
}

/** The outcome of a successful check. */
export interface CheckedTarget {
  url: URL;
  hostname: string;
  /** Addresses a connection may use; empty when the host name itself is allowlisted. */
  addresses: LookupAddress[];
}

/** Names that reach cloud metadata services or the local machine whatever DNS says. */
const BLOCKED_HOSTNAMES = new Set([
  'localhost',
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
  'metadata.azure.internal',
  'metadata.packet.net',
  'metadata.platformequinix.com',
]);
const PIN_LIMIT = 10_000;

const systemResolver: Resolver = (hostname) => dnsPromises.lookup(hostname, { all: true, verbatim: true });

function normaliseHost(hostname: string): string {
  let h = hostname.toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  while (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

/** Checks outgoing URLs and pins the connections made to them. */
export class SsrfGuard {
  /** Blocks per allowed port; key null = every port. */
  private readonly cidrs = new Map<number | null, CidrList>();
  private readonly hosts: Array<{ name: string; port: number | null }> = [];
  private readonly suffixes: Array<{ suffix: string; port: number | null }> = [];
  private readonly resolver: Resolver;
  private readonly cacheMs: number;
  private readonly clock: () => number;
  private readonly pins = new Map<string, { addresses: LookupAddress[]; resolvedAt: number }>();

  /** @throws Error when an allowlist entry is not one of the forms of {@link parseAllowEntry}. */
  constructor(options: SsrfOptions) {
    const cidrs = new Map<number | null, string[]>();
    for (const raw of options.allow) {
      const entry = parseAllowEntry(raw);
      if (entry === null) throw new Error(`ssrf.allow: '${raw}': ${ALLOW_ENTRY_FORMS}`);
      if (entry.kind === 'cidr') cidrs.set(entry.port, [...(cidrs.get(entry.port) ?? []), entry.value]);
      else if (entry.kind === 'suffix') this.suffixes.push({ suffix: entry.value, port: entry.port });
      else this.hosts.push({ name: normaliseHost(entry.value), port: entry.port });
    }
    for (const [port, list] of cidrs) this.cidrs.set(port, new CidrList(list));
    this.resolver = options.resolve ?? systemResolver;
    this.cacheMs = options.cacheMs ?? 10_000;
    this.clock = options.clock ?? Date.now;
  }

  /**
   * Checks `url`; `display` is how the URL is named in errors (callers hide secret paths).
   *
   * @throws ActionError `SsrfBlocked` (permanent) naming the URL and the refused address;
   *   `NetworkError` (retryable) when the host does not resolve.
   */
  async check(url: URL, display: string = url.href): Promise<CheckedTarget> {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw blocked(`${display}: scheme ${url.protocol} is not allowed (http and https only)`);
    }
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    const { hostname, addresses } = await this.checkHost(url.hostname, port, display);
    return { url, hostname, addresses };
  }

  /**
   * Checks a host and port that is not an http(s) URL (an SMTP server, a Redis URL) by the same
   * rules, and pins the addresses it accepted. Connect to one of `addresses`, never to the name.
   *
   * @throws ActionError as {@link check}.
   */
  async checkHost(host: string, port: number, display: string): Promise<{ hostname: string; addresses: LookupAddress[] }> {
    const hostname = normaliseHost(host);
    const literal = parseIp(hostname);
    if (literal) {
      this.assertAllowed(literal, port, hostname, display, hostname);
      return { hostname, addresses: [{ address: hostname, family: literal.version }] };
    }
    const hostAllowed = this.hostAllowed(hostname, port);
    if (!hostAllowed && (BLOCKED_HOSTNAMES.has(hostname) || hostname.endsWith('.localhost'))) {
      throw blocked(`${display}: host ${hostname} is a local or metadata host name; add ${hostname}:${port} to ssrf.allow to permit it`);
    }
    const addresses = await this.resolve(hostname, display);
    if (!hostAllowed) {
      for (const a of addresses) {
        const ip = parseIp(a.address);
        if (!ip) throw blocked(`${display}: host ${hostname} resolved to an unparsable address ${a.address}`);
        this.assertAllowed(ip, port, a.address, display, hostname);
      }
    }
    // Only checked resolutions are pinned: a refused one must never become a connect target.
    this.pin(hostname, addresses);
    return { hostname, addresses };
  }

  /**
   * The `lookup` for the HTTP agent's connect options: answers only from the pin table, so the
   * socket goes to an address {@link check} accepted. An unpinned name fails the connection.
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    const pin = this.pins.get(normaliseHost(hostname));
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family;
    const addresses = pin?.addresses.filter((a) => !family || a.family === family) ?? [];
    const first = addresses[0];
    if (!first) {
      const err = Object.assign(new Error(`no checked address for ${hostname}`), { code: 'ENOTPINNED' });
      process.nextTick(() => callback(err, '', 0));
      return;
    }
    if (options.all) process.nextTick(() => (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses));
    else process.nextTick(() => callback(null, first.address, first.family));
  };

  private hostAllowed(hostname: string, port: number): boolean {
    const portOk = (p: number | null) => p === null || p === port;
    return this.hosts.some((h) => h.name === hostname && portOk(h.port)) || this.suffixes.some((s) => hostname.endsWith(s.suffix) && portOk(s.port));
  }

  private assertAllowed(ip: ParsedIp, port: number, address: string, display: string, hostname: string): void {
    if (this.cidrs.get(null)?.has(ip) || this.cidrs.get(port)?.has(ip)) return;
    const cls = classifyIp(ip);
    if (!cls.blocked) return;
    const via = address === hostname ? `address ${address}` : `host ${hostname} resolves to ${address}`;
    const entry = ip.version === 6 ? `[${address}]:${port}` : `${address}:${port}`;
    throw blocked(`${display}: ${via} port ${port}, a ${cls.range} address; add ${entry} to ssrf.allow to permit it`);
  }

  private async resolve(hostname: string, display: string): Promise<LookupAddress[]> {
    const cached = this.pins.get(hostname);
    if (cached && this.cacheMs > 0 && this.clock() - cached.resolvedAt < this.cacheMs) return cached.addresses;
    let addresses: LookupAddress[];
    try {
      addresses = await this.resolver(hostname);
    } catch (err) {
      throw transient(ErrorType.NetworkError, `${display}: cannot resolve ${hostname}: ${messageOf(err)}`, { cause: err });
    }
    if (addresses.length === 0) throw transient(ErrorType.NetworkError, `${display}: ${hostname} has no addresses`);
    return addresses;
  }

  private pin(hostname: string, addresses: LookupAddress[]): void {
    const existing = this.pins.get(hostname);
    if (existing?.addresses === addresses) return;
    if (this.pins.size >= PIN_LIMIT && !existing) {
      const oldest = this.pins.keys().next();
      if (!oldest.done) this.pins.delete(oldest.value);
    }
    this.pins.set(hostname, { addresses, resolvedAt: this.clock() });
  }
}

function blocked(message: string) {
  return permanent(ErrorType.SsrfBlocked, `SSRF guard refused ${message}`, undefined, 'neutral');
}

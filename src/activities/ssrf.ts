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

/** Resolves a host name to all its addresses (the shape of `dns.promises.lookup(h, { all: true })`). */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export interface SsrfOptions {
  /** CIDR blocks (`10.0.0.0/8`, `127.0.0.1`) and host names (`hooks.internal`, `*.corp.example`) to permit. */
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
  private readonly cidrs: CidrList;
  private readonly hosts: string[];
  private readonly suffixes: string[];
  private readonly resolver: Resolver;
  private readonly cacheMs: number;
  private readonly clock: () => number;
  private readonly pins = new Map<string, { addresses: LookupAddress[]; resolvedAt: number }>();

  /** @throws Error when an allowlist entry is neither an address, a CIDR block nor a host name. */
  constructor(options: SsrfOptions) {
    const cidrs: string[] = [];
    this.hosts = [];
    this.suffixes = [];
    for (const raw of options.allow) {
      const entry = raw.trim().toLowerCase();
      if (entry.includes('/') || parseIp(entry)) cidrs.push(entry);
      else if (entry.startsWith('*.')) this.suffixes.push(entry.slice(1));
      else if (/^[a-z0-9_.-]+$/.test(entry)) this.hosts.push(normaliseHost(entry));
      else throw new Error(`ssrf.allow: not an address, CIDR block or host name: ${raw}`);
    }
    this.cidrs = new CidrList(cidrs);
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
    const hostname = normaliseHost(url.hostname);
    const literal = parseIp(hostname);
    if (literal) {
      this.assertAllowed(literal, hostname, display, hostname);
      return { url, hostname, addresses: [{ address: hostname, family: literal.version }] };
    }
    const hostAllowed = this.hostAllowed(hostname);
    if (!hostAllowed && (BLOCKED_HOSTNAMES.has(hostname) || hostname.endsWith('.localhost'))) {
      throw blocked(`${display}: host ${hostname} is a local or metadata host name; add it to ssrf.allow to permit it`);
    }
    const addresses = await this.resolve(hostname, display);
    if (!hostAllowed) {
      for (const a of addresses) {
        const ip = parseIp(a.address);
        if (!ip) throw blocked(`${display}: host ${hostname} resolved to an unparsable address ${a.address}`);
        this.assertAllowed(ip, a.address, display, hostname);
      }
    }
    // Only checked resolutions are pinned: a refused one must never become a connect target.
    this.pin(hostname, addresses);
    return { url, hostname, addresses };
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

  private hostAllowed(hostname: string): boolean {
    return this.hosts.includes(hostname) || this.suffixes.some((s) => hostname.endsWith(s));
  }

  private assertAllowed(ip: ParsedIp, address: string, display: string, hostname: string): void {
    if (this.cidrs.has(ip)) return;
    const cls = classifyIp(ip);
    if (!cls.blocked) return;
    const via = address === hostname ? `address ${address}` : `host ${hostname} resolves to ${address}`;
    throw blocked(`${display}: ${via}, a ${cls.range} address; add it to ssrf.allow to permit it`);
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

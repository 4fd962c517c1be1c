/**
 * The one HTTP path every webhook-like action takes: SSRF check on every hop, manual redirects,
 * an overall deadline, a response-size cap, and a status → failure mapping.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Agent, type Dispatcher } from 'undici';
import { MAX_REDIRECTS } from '../contract';
import { ActionError, ErrorType, messageOf, permanent, transient } from './errors';
import type { SsrfGuard } from './ssrf';

/** Builds the pooled dispatcher; receives options whose `connect.lookup` pins checked addresses. */
export type DispatcherFactory = (options: Agent.Options) => Dispatcher;

export interface OutgoingRequest {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  maxResponseBytes: number;
  /** Default {@link MAX_REDIRECTS}. */
  maxRedirects?: number;
  /** How a URL is named in errors; default: the URL without credentials. */
  display?: (url: URL) => string;
  /** Cancels the request (activity cancellation). */
  signal?: AbortSignal;
}

export interface IncomingResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body of a 2xx response, cut at `maxResponseBytes`; at most a short snippet otherwise. */
  body: Buffer;
  /** Whether a 2xx body was longer than `maxResponseBytes` (the rest was not read). */
  truncated: boolean;
  url: URL;
  redirects: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const ERROR_SNIPPET_BYTES = 512;
/** A receiver cannot park our retries for longer than this. */
const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// RFC 9110 field values: visible ASCII, space, tab and obs-text (Latin-1); nothing else can be sent.
const HEADER_VALUE_FORBIDDEN = /[^\t\x20-\x7e\x80-\xff]/;
/** Longest URL text quoted in messages and results: a huge templated URL is not copied whole into history. */
const MAX_DISPLAYED_URL = 300;
const CROSS_ORIGIN_DROPPED = ['authorization', 'cookie', 'proxy-authorization'];

/** The URL as it may appear in messages and results: credentials removed, cut after {@link MAX_DISPLAYED_URL} characters. */
export function displayUrl(url: URL): string {
  let href = url.href;
  if (url.username || url.password) {
    const copy = new URL(url.href);
    copy.username = '';
    copy.password = '';
    href = copy.href;
  }
  return href.length > MAX_DISPLAYED_URL ? `${href.slice(0, MAX_DISPLAYED_URL)}… (${href.length} characters)` : href;
}

/**
 * Rejects header names that are not HTTP tokens, and values with control characters (CR, LF, NUL:
 * header injection) or characters beyond Latin-1, as a permanent `InvalidHeader` failure. The
 * message never quotes the value; `variable` names where a value from the environment came from.
 */
export function assertHeader(name: string, value: string, variable?: string): void {
  if (!HEADER_NAME.test(name)) throw permanent(ErrorType.InvalidHeader, `header name ${JSON.stringify(name.slice(0, 100))} is not a valid HTTP token`, undefined, 'neutral');
  const bad = HEADER_VALUE_FORBIDDEN.exec(value);
  if (bad !== null) {
    const code = `U+${(bad[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
    const what = /[\r\n\0]/.test(bad[0]) ? 'a line break or NUL (header injection refused)' : /[\x00-\x1f\x7f]/.test(bad[0]) ? 'a control character' : 'a character outside Latin-1';
    const source = variable === undefined ? 'rendered value' : `value of ${variable}`;
    throw permanent(ErrorType.InvalidHeader, `header ${name}: ${source} contains ${what} (${code} at position ${bad.index})`, undefined, 'neutral');
  }
}

/** Parses `Retry-After` (delta seconds or HTTP date) into milliseconds from `now`; undefined if absent or past. */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!text) return undefined;
  let ms: number;
  if (/^\d+$/.test(text)) ms = Number(text) * 1000;
  else {
    const at = Date.parse(text);
    if (Number.isNaN(at)) return undefined;
    ms = at - now;
  }
  return ms > 0 ? Math.min(ms, MAX_RETRY_AFTER_MS) : undefined;
}

/**
 * Maps a final response status to a failure: 2xx → none; 408, 429 and 5xx → retryable (honouring
 * `Retry-After`); any other status → permanent `HttpClientError`.
 */
export function statusFailure(res: IncomingResponse, display: string): ActionError | undefined {
  const { status } = res;
  if (status >= 200 && status < 300) return undefined;
  const snippet = res.body.toString('utf8').replace(/[^\x20-\x7e]+/g, ' ').trim().slice(0, 200);
  const text = `${display} answered ${status}${snippet ? `: ${snippet}` : ''}`;
  const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
  if (status === 408 || status === 429) return transient(ErrorType.HttpRetryableStatus, text, { retryAfterMs });
  if (status >= 500) return transient(ErrorType.HttpServerError, text, { retryAfterMs });
  return permanent(ErrorType.HttpClientError, text);
}

/** Sends requests through a pinned, keep-alive dispatcher under an SSRF guard. */
export class HttpClient {
  readonly dispatcher: Dispatcher;

  constructor(
    private readonly guard: SsrfGuard,
    factory: DispatcherFactory = (options) => new Agent(options),
  ) {
    this.dispatcher = factory({
      connections: 256,
      keepAliveTimeout: 30_000,
      connect: { lookup: guard.lookup, timeout: 10_000 },
    });
  }

  /**
   * Sends `req`, following up to `maxRedirects` redirects, each re-checked by the guard.
   * Returns any final status; see {@link statusFailure} for its meaning.
   *
   * @throws ActionError `SsrfBlocked`, `TooManyRedirects` (permanent);
   *   `Timeout`, `NetworkError` (retryable).
   */
  async send(req: OutgoingRequest): Promise<IncomingResponse> {
    const display = req.display ?? displayUrl;
    const deadline = AbortSignal.timeout(req.timeoutMs);
    const signal = req.signal ? AbortSignal.any([deadline, req.signal]) : deadline;
    const maxRedirects = req.maxRedirects ?? MAX_REDIRECTS;
    let { url, method, body } = req;
    const headers = { ...req.headers };
    credentialsToHeader(url, headers);
    for (let redirects = 0; ; redirects++) {
      await this.guard.check(url, display(url));
      let res: Dispatcher.ResponseData;
      try {
        res = await this.dispatcher.request({
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method: method as Dispatcher.HttpMethod,
          headers,
          body: body ?? null,
          signal,
          headersTimeout: req.timeoutMs,
          bodyTimeout: req.timeoutMs,
        });
      } catch (err) {
        throw requestError(err, display(url), deadline, req.timeoutMs);
      }
      const location = res.headers.location;
      if (REDIRECTS.has(res.statusCode) && typeof location === 'string') {
        await res.body.dump().catch(() => undefined);
        if (redirects >= maxRedirects) {
          throw permanent(ErrorType.TooManyRedirects, `${display(req.url)}: more than ${maxRedirects} redirects`);
        }
        const next = resolveLocation(location, url, display(url));
        if (res.statusCode === 303 || ((res.statusCode === 301 || res.statusCode === 302) && method === 'POST')) {
          method = 'GET';
          body = undefined;
          delete headers['content-type'];
          delete headers['content-length'];
        }
        if (next.origin !== url.origin) for (const h of CROSS_ORIGIN_DROPPED) delete headers[h];
        credentialsToHeader(next, headers);
        url = next;
        continue;
      }
      const ok = res.statusCode >= 200 && res.statusCode < 300;
      const read = await readBody(res, ok ? req.maxResponseBytes : ERROR_SNIPPET_BYTES, display(url), deadline, req.timeoutMs);
      return { status: res.statusCode, headers: res.headers, body: read.body, truncated: ok && read.truncated, url, redirects };
    }
  }

  /** Closes the pooled connections. */
  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

/** undici refuses userinfo in origins; turn it into Basic auth (header names are lower-case here). */
function credentialsToHeader(url: URL, headers: Record<string, string>): void {
  if (!url.username && !url.password) return;
  if (!headers.authorization) {
    const pair = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    headers.authorization = `Basic ${Buffer.from(pair).toString('base64')}`;
  }
  url.username = '';
  url.password = '';
}

function resolveLocation(location: string, base: URL, display: string): URL {
  try {
    return new URL(location, base);
  } catch {
    throw permanent(ErrorType.InvalidUrl, `${display}: redirect to an invalid location`);
  }
}

/**
 * Reads at most `limit` bytes of a body. A longer one is cut there and the connection dropped: the
 * receiver answered, so what it says beyond the limit does not change the outcome.
 */
async function readBody(res: Dispatcher.ResponseData, limit: number, display: string, deadline: AbortSignal, timeoutMs: number): Promise<{ body: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body) {
      const buf = chunk as Buffer;
      size += buf.length;
      if (size > limit) {
        discard(res);
        chunks.push(buf.subarray(0, buf.length - (size - limit)));
        return { body: Buffer.concat(chunks), truncated: true };
      }
      chunks.push(buf);
    }
  } catch (err) {
    if (err instanceof ActionError) throw err;
    throw requestError(err, display, deadline, timeoutMs);
  }
  return { body: Buffer.concat(chunks), truncated: false };
}

/** Drops the connection without reading on; the abort it causes is expected, not an error to report. */
function discard(res: Dispatcher.ResponseData): void {
  res.body.on('error', () => undefined);
  res.body.destroy();
}

function requestError(err: unknown, display: string, deadline: AbortSignal, timeoutMs: number): ActionError {
  const code = (err as { code?: unknown }).code;
  const timedOut = deadline.aborted || (typeof code === 'string' && /TIMEOUT/i.test(code));
  if (timedOut) return transient(ErrorType.Timeout, `${display}: no complete response within ${timeoutMs} ms`, { cause: err });
  return transient(ErrorType.NetworkError, `${display}: ${messageOf(err)}`, { cause: err });
}

/**
 * The one HTTP path every webhook-like action takes: SSRF check on every hop, manual redirects,
 * an overall deadline, a response-size cap, and a status → failure mapping.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Agent, type Dispatcher } from 'undici';
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
  /** Default 5. */
  maxRedirects?: number;
  /** How a URL is named in errors; default: the URL without credentials. */
  display?: (url: URL) => string;
  /** Cancels the request (activity cancellation). */
  signal?: AbortSignal;
}

export interface IncomingResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body of a 2xx response; at most a short snippet otherwise. */
  body: Buffer;
  url: URL;
  redirects: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const ERROR_SNIPPET_BYTES = 512;
/** A receiver cannot park our retries for longer than this. */
const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE_FORBIDDEN = /[\r\n\0]/;
const CROSS_ORIGIN_DROPPED = ['authorization', 'cookie', 'proxy-authorization'];

/** The URL as it may appear in messages and results: credentials removed. */
export function safeUrl(url: URL): string {
  if (!url.username && !url.password) return url.href;
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy.href;
}

/**
 * Rejects header names that are not HTTP tokens and values containing CR, LF or NUL
 * (header injection), as a permanent `InvalidHeader` failure.
 */
export function assertHeader(name: string, value: string): void {
  if (!HEADER_NAME.test(name)) throw permanent(ErrorType.InvalidHeader, `header name ${JSON.stringify(name)} is not a valid HTTP token`, undefined, 'neutral');
  if (HEADER_VALUE_FORBIDDEN.test(value)) {
    throw permanent(ErrorType.InvalidHeader, `header ${name}: rendered value contains CR, LF or NUL (header injection refused)`, undefined, 'neutral');
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
   * @throws ActionError `SsrfBlocked`, `TooManyRedirects`, `ResponseTooLarge` (permanent);
   *   `Timeout`, `NetworkError` (retryable).
   */
  async send(req: OutgoingRequest): Promise<IncomingResponse> {
    const display = req.display ?? safeUrl;
    const deadline = AbortSignal.timeout(req.timeoutMs);
    const signal = req.signal ? AbortSignal.any([deadline, req.signal]) : deadline;
    const maxRedirects = req.maxRedirects ?? 5;
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
      const payload = await readBody(res, ok ? req.maxResponseBytes : ERROR_SNIPPET_BYTES, ok, display(url), deadline, req.timeoutMs);
      return { status: res.statusCode, headers: res.headers, body: payload, url, redirects };
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

async function readBody(res: Dispatcher.ResponseData, limit: number, enforce: boolean, display: string, deadline: AbortSignal, timeoutMs: number): Promise<Buffer> {
  const declared = Number(res.headers['content-length']);
  if (enforce && Number.isFinite(declared) && declared > limit) {
    discard(res);
    throw tooLarge(display, limit, `declares ${declared} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body) {
      const buf = chunk as Buffer;
      size += buf.length;
      if (size > limit) {
        discard(res);
        if (enforce) throw tooLarge(display, limit, 'exceeded it');
        chunks.push(buf.subarray(0, buf.length - (size - limit)));
        break;
      }
      chunks.push(buf);
    }
  } catch (err) {
    if (err instanceof ActionError) throw err;
    throw requestError(err, display, deadline, timeoutMs);
  }
  return Buffer.concat(chunks);
}

/** Drops the connection without reading on; the abort it causes is expected, not an error to report. */
function discard(res: Dispatcher.ResponseData): void {
  res.body.on('error', () => undefined);
  res.body.destroy();
}

function tooLarge(display: string, limit: number, how: string): ActionError {
  return permanent(ErrorType.ResponseTooLarge, `${display}: response body ${how}; the limit is ${limit} bytes (max_response_bytes)`);
}

function requestError(err: unknown, display: string, deadline: AbortSignal, timeoutMs: number): ActionError {
  const code = (err as { code?: unknown }).code;
  const timedOut = deadline.aborted || (typeof code === 'string' && /TIMEOUT/i.test(code));
  if (timedOut) return transient(ErrorType.Timeout, `${display}: no complete response within ${timeoutMs} ms`, { cause: err });
  return transient(ErrorType.NetworkError, `${display}: ${messageOf(err)}`, { cause: err });
}

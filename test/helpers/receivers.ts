/**
 * Real local endpoints for action tests: an HTTP receiver and an SMTP server on loopback, plus the
 * small fixtures those tests share (a change event, a captured pino logger, a quiet activity env).
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger as TemporalLogger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { SMTPServer } from 'smtp-server';
import type { ChangeEvent } from '../../src/events/types';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  remoteAddress: string | undefined;
  /** Epoch ms (fractional) at which the whole request had arrived. */
  receivedAt: number;
}

/** Answers one request; the default answers 200 `ok`. */
export type Responder = (req: RecordedRequest, res: http.ServerResponse) => void | Promise<void>;

export interface HttpReceiver {
  /** `http://127.0.0.1:<port>` (or the host given; no trailing slash). */
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Replaces the responder. */
  respond(responder: Responder): void;
  close(): Promise<void>;
}

/** Wall-clock epoch milliseconds with sub-millisecond resolution. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export interface HttpReceiverOptions {
  /** Address to listen on; default 127.0.0.1 (e.g. 127.0.0.2 or ::1 for SSRF tests). */
  host?: string;
  /** Port to listen on; default any free port. */
  port?: number;
}

/** Starts an HTTP server on 127.0.0.1 (or `options.host`) that records every request with its full body. */
export async function startHttpReceiver(responder?: Responder, options: HttpReceiverOptions = {}): Promise<HttpReceiver> {
  const host = options.host ?? '127.0.0.1';
  const requests: RecordedRequest[] = [];
  let current: Responder =
    responder ??
    ((_req, res) => {
      res.end('ok');
    });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        remoteAddress: req.socket.remoteAddress,
        receivedAt: nowMs(),
      };
      requests.push(recorded);
      Promise.resolve(current(recorded, res)).catch((err: unknown) => {
        res.statusCode = 599;
        res.end(String(err));
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    requests,
    respond(r) {
      current = r;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface ReceivedMail {
  from: string | undefined;
  to: string[];
  /** The authenticated user name, if the client authenticated. */
  user: string | undefined;
  /** The whole message as transmitted (headers and body). */
  raw: string;
}

export interface SmtpReceiver {
  port: number;
  messages: ReceivedMail[];
  close(): Promise<void>;
}

export interface SmtpReceiverOptions {
  /** When set, AUTH is required and must match. */
  user?: string;
  password?: string;
  /** Return an SMTP code (e.g. 550) to reject a recipient. */
  rejectRecipient?: (address: string) => number | undefined;
  /** The text of the 535 reply to a failed AUTH; receives what the client sent (to test that echoed secrets are scrubbed). */
  authFailureMessage?: (username: string | undefined, password: string | undefined) => string;
}

/** Starts an SMTP server on 127.0.0.1 (plain text, AUTH PLAIN/LOGIN allowed without TLS). */
export async function startSmtpReceiver(options: SmtpReceiverOptions = {}): Promise<SmtpReceiver> {
  const messages: ReceivedMail[] = [];
  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    authOptional: options.user === undefined,
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === options.user && auth.password === options.password) return callback(null, { user: auth.username });
      const message = options.authFailureMessage?.(auth.username, auth.password ?? undefined) ?? 'Invalid username or password';
      return callback(Object.assign(new Error(message), { responseCode: 535 }));
    },
    onRcptTo(address, _session, callback) {
      const code = options.rejectRecipient?.(address.address);
      if (code) return callback(Object.assign(new Error(`recipient ${address.address} refused`), { responseCode: code }));
      return callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined,
          to: session.envelope.rcptTo.map((r) => r.address),
          user: typeof session.user === 'string' ? session.user : undefined,
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = (server as unknown as { server: { address(): AddressInfo } }).server.address();
  return { port, messages, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A pino logger writing to memory, to assert on what was (not) logged. */
export function captureLogger(): { log: pino.Logger; text(): string; lines(): Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const log = pino({ level: 'trace' }, { write: (line: string) => void chunks.push(line) });
  return {
    log,
    text: () => chunks.join(''),
    lines: () => chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const silent: TemporalLogger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** Runs activities in a `MockActivityEnvironment` that does not print every expected failure. */
export function activityEnv(attempt = 1): { run<I, O>(fn: (input: I) => Promise<O>, input: I): Promise<O> } {
  const env = new MockActivityEnvironment({ attempt }, { logger: silent });
  // Typed from the activity (the SDK's signature infers from the arguments and loses the result type).
  return { run: (fn, input) => env.run(fn, input) };
}

/** A change event for Order `<uuid>` (UPDATE of status), with overrides. */
export function orderEvent(overrides: Partial<ChangeEvent> = {}): ChangeEvent {
  const id = randomUUID();
  return {
    id,
    position: '42',
    kind: 'UPDATE',
    rawKind: 'UPDATE',
    entityType: 'Order',
    entityId: randomUUID(),
    data: { status: 'shipped', total: 99.5, customer: { email: 'ada@example.com', name: 'Ada' } },
    before: { status: 'paid' },
    changes: { status: { old: 'paid', new: 'shipped' } },
    updatedFields: ['status'],
    tenantId: null,
    userId: null,
    actor: null,
    createdAt: '2025-01-01T00:00:00.000Z',
    commitTime: '2025-01-01T00:00:00.000Z',
    trace: null,
    ...overrides,
  };
}

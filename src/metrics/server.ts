/**
 * The service's HTTP endpoint: `/metrics` (Prometheus text of the registry), `/healthz` (the
 * process is alive and serving) and `/readyz` (200 only when every role this process runs is
 * ready; 503 with the reasons as JSON otherwise).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

/** The outcome of one readiness check. */
export interface CheckResult {
  ok: boolean;
  /** Why it is not ready (or a short description of what is fine). */
  detail?: string;
}

/** A named readiness check: the listener, the worker, Temporal, ... */
export interface ReadinessCheck {
  name: string;
  check(): CheckResult | Promise<CheckResult>;
}

export interface ReadinessReport {
  ready: boolean;
  /** `name: detail` of every failing check, joined; absent when ready. */
  reason?: string;
  checks: Array<{ name: string } & CheckResult>;
}

export interface MetricsServerOptions {
  registry: Registry;
  /** 0 picks any free port. */
  port: number;
  /** Default 0.0.0.0. */
  host?: string;
  checks?: readonly ReadinessCheck[];
  /** A check slower than this counts as failed (default 2000 ms). */
  checkTimeoutMs?: number;
  log?: Logger;
  /** How the user chose the port, named in the "in use" message (default METRICS_PORT). */
  portFlag?: string;
}

export interface MetricsServer {
  readonly port: number;
  /** `http://host:port` as bound (0.0.0.0 shown as 127.0.0.1). */
  readonly url: string;
  /** Replace the readiness checks (roles come up after the endpoint does). */
  setChecks(checks: readonly ReadinessCheck[]): void;
  readiness(): Promise<ReadinessReport>;
  close(): Promise<void>;
}

/** Runs every check with a timeout; a check that throws fails with its message. */
export async function evaluateReadiness(checks: readonly ReadinessCheck[], timeoutMs = 2000): Promise<ReadinessReport> {
  const results = await Promise.all(
    checks.map(async (c) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        const result = await Promise.race([
          Promise.resolve().then(() => c.check()),
          new Promise<CheckResult>((resolve) => {
            timer = setTimeout(() => resolve({ ok: false, detail: `no answer within ${timeoutMs} ms` }), timeoutMs);
          }),
        ]);
        return { name: c.name, ...result };
      } catch (err) {
        return { name: c.name, ok: false, detail: err instanceof Error ? err.message : String(err) };
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const failing = results.filter((r) => !r.ok);
  if (checks.length === 0) return { ready: false, reason: 'starting: no role is running yet', checks: [] };
  return failing.length === 0
    ? { ready: true, checks: results }
    : { ready: false, reason: failing.map((r) => `${r.name}: ${r.detail ?? 'not ready'}`).join('; '), checks: results };
}

/**
 * Starts the endpoint.
 *
 * @throws Error naming the address when the port cannot be bound (e.g. already in use).
 */
export async function startMetricsServer(o: MetricsServerOptions): Promise<MetricsServer> {
  let checks: readonly ReadinessCheck[] = o.checks ?? [];
  const timeoutMs = o.checkTimeoutMs ?? 2000;
  const host = o.host ?? '0.0.0.0';
  const startedAt = Date.now();

  const send = (res: http.ServerResponse, status: number, type: string, body: string) => {
    res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
    res.end(body);
  };
  const json = (res: http.ServerResponse, status: number, value: unknown) => send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(value)}\n`);

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      json(res, 405, { error: `method ${req.method ?? ''} not allowed` });
      return;
    }
    const handle = async () => {
      switch (path) {
        case '/metrics':
          send(res, 200, o.registry.contentType, await o.registry.metrics());
          return;
        case '/healthz':
          json(res, 200, { status: 'alive', uptime_seconds: Math.round((Date.now() - startedAt) / 1000), pid: process.pid });
          return;
        case '/readyz': {
          const report = await evaluateReadiness(checks, timeoutMs);
          json(res, report.ready ? 200 : 503, { status: report.ready ? 'ready' : 'not_ready', ...report });
          return;
        }
        default:
          json(res, 404, { error: `no such path ${path}; try /metrics, /healthz or /readyz` });
      }
    };
    handle().catch((err: unknown) => {
      o.log?.error({ err: { message: err instanceof Error ? err.message : String(err) }, path }, 'metrics endpoint request failed');
      if (!res.headersSent) json(res, 500, { error: err instanceof Error ? err.message : String(err) });
      else res.end();
    });
  });
  // Scrapes are short; a stuck client must not hold the process open at shutdown.
  server.keepAliveTimeout = 5000;
  server.requestTimeout = 10_000;

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(new Error(
        err.code === 'EADDRINUSE'
          ? `cannot serve metrics on ${host}:${o.port}: the port is already in use (set ${o.portFlag ?? 'METRICS_PORT'} to another port, or 0 for any free one)`
          : `cannot serve metrics on ${host}:${o.port}: ${err.message}`,
        { cause: err },
      ));
    };
    server.once('error', onError);
    server.listen(o.port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  let closed: Promise<void> | null = null;
  return {
    port,
    url: `http://${shownHost}:${port}`,
    setChecks(next) {
      checks = next;
    },
    readiness: () => evaluateReadiness(checks, timeoutMs),
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      return closed;
    },
  };
}

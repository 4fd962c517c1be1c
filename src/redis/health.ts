/**
 * Saying "Redis at host:port is unreachable" instead of the client library's internals
 * ("Reached the max retries per request limit"): for the start-up check, the `/readyz` reason and
 * the error of a cache action. Never shows the URL's password.
 */
import type { Redis } from 'ioredis';

/** `host:port` (or the socket path) of a client, for messages. */
export function redisTarget(redis: Redis): string {
  const o = redis.options;
  if (o.path) return o.path;
  return `${o.host ?? '127.0.0.1'}:${o.port ?? 6379}`;
}

// The client's own wording for "no connection": its retry limit, a closed or never-opened socket.
const CONNECTION_FAILURE_RE = /max retries per request|Connection is closed|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ECONNRESET|Stream isn't writeable|connect ETIMEDOUT/i;

/** True when `err` means the server could not be reached (rather than a command it refused). */
export function isRedisConnectionFailure(redis: Redis, err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return CONNECTION_FAILURE_RE.test(message) || (redis.status !== 'ready' && redis.status !== 'connect' && redis.status !== 'wait');
}

/** The last connection error the client saw, kept by {@link watchRedis}. */
const lastErrors = new WeakMap<Redis, string>();

/** "Redis at host:port is unreachable (ECONNREFUSED)". */
export function unreachableMessage(redis: Redis, err?: unknown): string {
  const last = lastErrors.get(redis);
  const own = err instanceof Error && !/max retries per request/i.test(err.message) ? err.message : undefined;
  const reason = own ?? last;
  return `Redis at ${redisTarget(redis)} is unreachable${reason ? ` (${reason})` : ''}`;
}

/**
 * Logs an outage once (not at every reconnect attempt) and its end, and remembers the last
 * connection error for {@link unreachableMessage}.
 */
export function watchRedis(redis: Redis, log: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void }, purpose: string): void {
  let down = false;
  redis.on('error', (err: Error & { code?: string }) => {
    lastErrors.set(redis, err.code ?? err.message);
    if (down) return;
    down = true;
    log.warn({ redis: redisTarget(redis), err: { type: err.code ?? err.name, message: err.message } }, `${unreachableMessage(redis)}: ${purpose} fail (and are retried) until it answers`);
  });
  redis.on('ready', () => {
    lastErrors.delete(redis);
    if (!down) return;
    down = false;
    log.info({ redis: redisTarget(redis) }, `Redis at ${redisTarget(redis)} answers again`);
  });
}

/** One PING within `timeoutMs`: ok, or why not (for `/readyz` and the start-up check). */
export async function pingRedis(redis: Redis, timeoutMs = 1500): Promise<{ ok: boolean; detail: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { ok: true, detail: `Redis at ${redisTarget(redis)} answers` };
  } catch (err) {
    return { ok: false, detail: unreachableMessage(redis, err) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A short-lived Redis connection for operator commands: connects once (no retries, no offline
 * queue), fails with the real reason ("ECONNREFUSED", not ioredis's "Connection is closed") and
 * the address without credentials, and lets the process exit as soon as it is closed.
 */
import { Redis } from 'ioredis';

/** host:port of a Redis URL, without credentials. */
export function describeRedis(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '6379'}`;
  } catch {
    return 'the configured address';
  }
}

/** Redis at `url` could not be reached. */
export class RedisUnreachableError extends Error {
  constructor(url: string, reason: string) {
    super(`Redis at ${describeRedis(url)} is unreachable: ${reason}`);
    this.name = 'RedisUnreachableError';
  }
}

/**
 * Connects to `url`; close the client with `disconnect()` when done.
 *
 * @throws RedisUnreachableError naming the address and the cause.
 */
export async function connectRedis(url: string, timeoutMs: number): Promise<Redis> {
  let last: Error | null = null;
  const redis = new Redis(url, {
    lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: timeoutMs, retryStrategy: () => null, enableOfflineQueue: false,
    // The default keeps the process alive 2 s after disconnect().
    disconnectTimeout: 10,
  });
  redis.on('error', (err: Error) => {
    last = err;
  });
  try {
    await redis.connect();
    return redis;
  } catch (err) {
    redis.disconnect();
    throw new RedisUnreachableError(url, (last as Error | null)?.message ?? (err as Error).message);
  }
}

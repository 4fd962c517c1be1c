/** Dedicated (non-pooled) sessions for the lease and for LISTEN, which must not be shared or recycled. */
import { Client, type ClientConfig } from 'pg';

/** Open a dedicated session. The caller attaches its own 'error'/'end' handlers right after. */
export async function openSession(config: ClientConfig, applicationName: string, onError: (err: Error) => void): Promise<Client> {
  const client = new Client({ ...config, application_name: applicationName.slice(0, 63), keepAlive: true, keepAliveInitialDelayMillis: 5000 });
  // Attached before connect: a failure during the handshake must not become an unhandled 'error'.
  client.on('error', onError);
  try {
    await client.connect();
  } catch (err) {
    destroySession(client);
    throw err;
  }
  return client;
}

/**
 * Drop a session at once, as a crash would: the socket is destroyed without a Terminate message,
 * so the server aborts its transaction and releases its advisory locks when it sees the EOF.
 */
export function destroySession(client: Client): void {
  const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
  if (stream) stream.destroy();
  else client.end().catch(() => undefined);
}

/** End a session politely (Terminate message), never throwing. */
export async function endSession(client: Client, timeoutMs = 2000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    client.end().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        destroySession(client);
        resolve();
      }, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
}

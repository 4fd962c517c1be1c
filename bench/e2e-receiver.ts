/**
 * The webhook receiver of `npm run bench:e2e`, in its own process (so it neither shares an event
 * loop with the service nor counts in its RSS): a keep-alive HTTP server that reports every
 * delivery (event id, idempotency key, arrival epoch ms) to its parent over IPC, in batches.
 * Paths starting with /slow answer after 100 ms (the "3 × 100 ms actions" phase).
 *
 * Started by bench/e2e.ts with `fork`; sends `{ type: 'ready', port }`, stops on `'stop'`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type ReceiverMessage =
  | { type: 'ready'; port: number }
  | { type: 'deliveries'; items: Array<[eventId: string, key: string, atMs: number]> };

function send(message: ReceiverMessage): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  let pending: Array<[string, string, number]> = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      pending.push([String(req.headers['x-fraiseql-event-id'] ?? ''), String(req.headers['idempotency-key'] ?? ''), Date.now()]);
      if (req.url?.startsWith('/slow')) setTimeout(() => res.end('ok'), 100);
      else res.end('ok');
    });
  });
  server.keepAliveTimeout = 60_000;
  const flush = setInterval(() => {
    if (pending.length === 0) return;
    send({ type: 'deliveries', items: pending });
    pending = [];
  }, 50);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  send({ type: 'ready', port: (server.address() as AddressInfo).port });
  await new Promise<void>((resolve) => {
    process.on('message', (m) => {
      if (m === 'stop') resolve();
    });
    process.on('disconnect', () => resolve());
  });
  clearInterval(flush);
  if (pending.length > 0) send({ type: 'deliveries', items: pending });
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

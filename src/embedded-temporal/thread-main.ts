/**
 * Entry of the embedded server's worker thread (see thread.ts): starts the server with the options
 * it was given, reports back as messages, and stops when told to.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { startEmbeddedTemporal, type EmbeddedTemporal } from './server';
import { type FromThread, type ThreadOptions, type ToThread, toPlainError } from './thread';

const port = parentPort;
if (!port) throw new Error('thread-main runs only as the embedded Temporal server\'s worker thread');
const send = (m: FromThread) => port.postMessage(m);
const options = workerData as ThreadOptions;

let server: EmbeddedTemporal | null = null;
let stopRequested = false;

port.on('message', (m: ToThread) => {
  if (m.kind !== 'stop') return;
  stopRequested = true;
  if (server) void stop(server);
});

async function stop(s: EmbeddedTemporal): Promise<void> {
  try {
    await s.stop();
  } finally {
    send({ kind: 'stopped' });
  }
}

startEmbeddedTemporal({
  ...options,
  onError: (method, err) => send({ kind: 'error', method, error: toPlainError(err) }),
  ...(options.persistence
    ? {
        persistence: {
          ...options.persistence,
          onStandby: (holder: string) => send({ kind: 'standby', holder }),
          onFatal: (err: Error) => send({ kind: 'fatal', error: toPlainError(err) }),
        },
      }
    : {}),
}).then(
  (s) => {
    server = s;
    send({ kind: 'ready', address: s.address, port: s.port, namespace: s.namespace, persistence: s.persistence });
    if (stopRequested) void stop(s);
  },
  (err: unknown) => {
    send({ kind: 'failed', error: toPlainError(err) });
    port.close();
  },
);

/**
 * graphile-worker's logger for the peer, at the level the service's processes run in the bench
 * (LOG_LEVEL=warn): its default logs a line per completed job, which would bill the peer for
 * console output the service does not produce.
 */
import { Logger } from 'graphile-worker';

export const quietLogger = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning') process.stderr.write(`peer worker ${level}: ${message}\n`);
});

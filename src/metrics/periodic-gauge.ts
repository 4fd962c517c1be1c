/**
 * A gauge whose value is read from somewhere slow (Temporal visibility) on a timer rather than
 * at scrape time, so a scrape never waits on, or hammers, the source.
 */
import { Gauge, type Registry } from 'prom-client';

export interface PeriodicGaugeOptions {
  registry: Registry;
  name: string;
  help: string;
  /** Reads the current value. */
  read: () => Promise<number>;
  intervalMs: number;
  /** Called when a read fails; the gauge keeps its last value. */
  onError?: (err: unknown) => void;
}

/**
 * Registers the gauge (or reuses one of that name on the registry), reads it at once and then every
 * `intervalMs`. Reads never overlap, and the timer does not keep the process alive.
 *
 * @returns a function that stops the reads and waits for one in flight
 */
export function startPeriodicGauge(o: PeriodicGaugeOptions): () => Promise<void> {
  const existing = o.registry.getSingleMetric(o.name);
  const gauge = existing instanceof Gauge ? existing : new Gauge({ name: o.name, help: o.help, registers: [o.registry] });
  let inFlight: Promise<void> | null = null;
  let stopped = false;
  const refresh = (): void => {
    if (inFlight || stopped) return;
    inFlight = o
      .read()
      .then((n) => {
        if (!stopped) gauge.set(n);
      })
      .catch((err: unknown) => o.onError?.(err))
      .finally(() => {
        inFlight = null;
      });
  };
  refresh();
  const timer = setInterval(refresh, o.intervalMs);
  timer.unref();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await inFlight;
  };
}

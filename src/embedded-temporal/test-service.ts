/** TestService: the time-skipping controls `@temporalio/testing` uses. */
import { type ServerState } from './state';
import { msFromDuration, msFromTs, tsFromMs, type UnaryHandler } from './proto';

export function testServiceHandlers(state: ServerState): Record<string, UnaryHandler> {
  const clock = state.clock;
  const sleepUntil = (at: number) => new Promise<void>((resolve) => clock.at(at, resolve));
  return {
    LockTimeSkipping: () => {
      clock.lock();
      return {};
    },
    UnlockTimeSkipping: () => {
      clock.unlock();
      return {};
    },
    Sleep: async (req: any) => {
      await sleepUntil(clock.now() + (msFromDuration(req.duration) ?? 0));
      return {};
    },
    SleepUntil: async (req: any) => {
      await sleepUntil(msFromTs(req.timestamp) ?? clock.now());
      return {};
    },
    UnlockTimeSkippingWithSleep: async (req: any) => {
      const at = clock.now() + (msFromDuration(req.duration) ?? 0);
      const done = sleepUntil(at);
      clock.unlock();
      await done;
      clock.lock();
      return {};
    },
    GetCurrentTime: () => ({ time: tsFromMs(clock.now()) }),
  };
}

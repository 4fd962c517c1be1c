/**
 * Per-process and per-thread CPU time and memory from Linux `/proc`, so a benchmark can say where
 * the CPU of each workflow went (server, worker, load generator) without instrumenting them.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ; 100 on every Linux this runs on). */
const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) a process has used so far, over all its threads; NaN when it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    return ticksOf(readFileSync(`/proc/${pid}/stat`, 'utf8')) / TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/** The utime + stime fields of a stat line (the command name may contain spaces and parentheses). */
function ticksOf(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the name: state(3) ... utime is field 14 and stime field 15 of the whole line.
  return Number(fields[11]) + Number(fields[12]);
}

/** Thread groups of a Node process running the Temporal SDK, by what their CPU time pays for. */
export type ThreadGroup = 'main JS thread' | 'other JS threads' | 'Rust core (tokio)' | 'V8 helpers (GC, JIT)' | 'other';

/**
 * CPU seconds per thread group of a process. The main thread has tid = pid; Node worker threads
 * (the SDK's workflow threads) keep the name `node`; Rust core threads are named by tokio; V8's
 * platform threads (concurrent GC and compilation) are `V8 DefaultWorke`.
 */
export function threadCpuSeconds(pid: number): Record<ThreadGroup, number> {
  const out: Record<ThreadGroup, number> = {
    'main JS thread': 0, 'other JS threads': 0, 'Rust core (tokio)': 0, 'V8 helpers (GC, JIT)': 0, other: 0,
  };
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const seconds = ticksOf(stat) / TICKS_PER_SECOND;
    const group: ThreadGroup = Number(tid) === pid ? 'main JS thread'
      : name.startsWith('tokio') ? 'Rust core (tokio)'
        : name.startsWith('V8 ') ? 'V8 helpers (GC, JIT)'
          : name === 'node' ? 'other JS threads' : 'other';
    out[group] += seconds;
  }
  return out;
}

/** Peak resident set size of a process in MiB (VmHWM); NaN when it is gone. */
export function peakRssMiB(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

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

/** V8 platform threads Node starts before anything else: 4 workers and the delayed-task scheduler. */
const V8_PLATFORM_THREADS = 5;

/** Thread groups of a Node process running the Temporal SDK, by what their CPU time pays for. */
export type ThreadGroup = 'main JS thread' | 'other JS threads' | 'Rust core (tokio)' | 'V8 helpers (GC, JIT)' | 'other';

/**
 * CPU seconds per thread group of a process. The main thread has tid = pid; Rust core threads are
 * named by tokio. Node 20 leaves both V8's platform threads (concurrent GC and compilation) and its
 * worker threads (the SDK's workflow thread, the embedded server's thread) named `node`. Node
 * starts the platform's threads first, before any script runs: its 4 workers (--v8-pool-size) and
 * the delayed-task scheduler, so the first five `node` threads by thread id are counted as V8's.
 * (Builds that name them `V8 DefaultWorke` are matched by name.)
 */
export function threadCpuSeconds(pid: number): Record<ThreadGroup, number> {
  const out: Record<ThreadGroup, number> = {
    'main JS thread': 0, 'other JS threads': 0, 'Rust core (tokio)': 0, 'V8 helpers (GC, JIT)': 0, other: 0,
  };
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`).sort((a, b) => Number(a) - Number(b));
  } catch {
    return out;
  }
  let nodeThreadsSeen = 0;
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
        : name.startsWith('V8 ') || (name === 'node' && ++nodeThreadsSeen <= V8_PLATFORM_THREADS) ? 'V8 helpers (GC, JIT)'
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

/**
 * CPU seconds the local PostgreSQL server has used so far: every `postgres` process, plus the
 * children times of the postmaster (backends that exited since it started, e.g. a closed pool's).
 * NaN when no postgres process is visible (a server on another host or in another namespace).
 */
export function postgresCpuSeconds(): number {
  let ticks = 0;
  let seen = false;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) !== 'postgres') continue;
    seen = true;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
    // The postmaster is the postgres process whose parent is not one: cutime + cstime (fields 16, 17).
    let parentName = '';
    try {
      const parent = readFileSync(`/proc/${fields[1]}/stat`, 'utf8');
      parentName = parent.slice(parent.indexOf('(') + 1, parent.lastIndexOf(')'));
    } catch {
      // parent gone: not the postmaster's child
    }
    if (parentName !== 'postgres') ticks += Number(fields[13]) + Number(fields[14]);
  }
  return seen ? ticks / TICKS_PER_SECOND : NaN;
}

/**
 * Per-process and per-thread CPU time and memory from Linux `/proc`, so a benchmark can say where
 * the CPU of each workflow went (server, worker, load generator) without instrumenting them.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ; 100 on every Linux this runs on). */
const TICKS_PER_SECOND = 100;

/** The fields of a `/proc/.../stat` line this file reads (the name may contain spaces and parentheses). */
interface Stat {
  name: string;
  ppid: number;
  /** utime + stime (fields 14, 15), in ticks. */
  ticks: number;
  /** cutime + cstime (fields 16, 17): waited-for children that have exited, in ticks. */
  childTicks: number;
}

/** Read and parse `path` (a stat file); null when the process or thread is gone. */
function readStat(path: string): Stat | null {
  let line: string;
  try {
    line = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  const close = line.lastIndexOf(')');
  // After the name comes field 3 (state): field N is at index N - 3.
  const f = line.slice(close + 2).split(' ');
  return { name: line.slice(line.indexOf('(') + 1, close), ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), childTicks: Number(f[13]) + Number(f[14]) };
}

/** CPU seconds (user + system) a process has used so far, over all its threads; NaN when it is gone. */
export function cpuSeconds(pid: number): number {
  const st = readStat(`/proc/${pid}/stat`);
  return st ? st.ticks / TICKS_PER_SECOND : NaN;
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
    const st = readStat(`/proc/${pid}/task/${tid}/stat`);
    if (!st) continue; // the thread ended meanwhile
    const { name } = st;
    const seconds = st.ticks / TICKS_PER_SECOND;
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
  const postgres = new Map<number, Stat>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const st = readStat(`/proc/${entry}/stat`);
    if (st?.name === 'postgres') postgres.set(Number(entry), st);
  }
  if (postgres.size === 0) return NaN;
  let ticks = 0;
  for (const st of postgres.values()) {
    ticks += st.ticks;
    // The postmaster (a postgres process whose parent is not one) also counts its exited backends.
    if (!postgres.has(st.ppid)) ticks += st.childTicks;
  }
  return ticks / TICKS_PER_SECOND;
}

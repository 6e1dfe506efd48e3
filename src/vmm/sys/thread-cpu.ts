// The calling thread's CPU time, split the way the kernel accounts a vCPU thread: time in the
// guest (guest_time) and the rest, in user space or the kernel on the VMM's behalf. Read from
// /proc/thread-self/stat (clock ticks, USER_HZ = 100 on x86_64 Linux: 10 ms resolution).
import { readFileSync } from 'node:fs';

const MS_PER_TICK = 10;

export interface ThreadCpu {
  /** user + system time, guest time included (the kernel counts guest time as user time). */
  totalMs: number;
  /** Time spent running the guest (KVM_RUN in guest mode). */
  guestMs: number;
}

/** Fields of a /proc/<pid>/task/<tid>/stat line (the comm may hold spaces and parentheses). */
export function parseThreadStat(stat: string): ThreadCpu {
  const after = stat
    .slice(stat.lastIndexOf(')') + 2)
    .trim()
    .split(/\s+/);
  // `after[0]` is field 3 (state): field N sits at after[N - 3].
  const field = (n: number) => {
    const v = Number(after[n - 3]);
    if (!Number.isFinite(v)) throw new RangeError(`thread stat has no field ${n}: ${stat.slice(0, 120)}`);
    return v;
  };
  return { totalMs: (field(14) + field(15)) * MS_PER_TICK, guestMs: field(43) * MS_PER_TICK };
}

export function threadCpu(): ThreadCpu {
  return parseThreadStat(readFileSync('/proc/thread-self/stat', 'utf8'));
}

/** Thread `tid` of this process (a native vCPU thread, read from its exit thread). */
export function taskCpu(tid: number): ThreadCpu {
  return parseThreadStat(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8'));
}

/** CPU time between two readings of one thread. */
export function cpuSince(before: ThreadCpu, now: ThreadCpu = threadCpu()): ThreadCpu {
  return { totalMs: now.totalMs - before.totalMs, guestMs: now.guestMs - before.guestMs };
}

/**
 * Whether thread `tid` of this process is runnable (running, or waiting for a CPU) or blocked
 * (a vCPU halted in KVM sleeps); undefined when it is gone or in another state.
 */
export function threadRunState(tid: number): 'runnable' | 'blocked' | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const state = stat.charAt(stat.lastIndexOf(')') + 2);
  return state === 'R' ? 'runnable' : state === 'S' || state === 'D' ? 'blocked' : undefined;
}

// What the monitor's samples say about the scheduler: runqueues that stall (runnable tasks on
// an online CPU that runs its idle task or whose clock stands still) and sustained imbalance
// (a CPU with queued tasks while another idles). Pure functions over the samples.

export interface CpuSample {
  online: boolean;
  /** rq->nr_running and rq->scx.nr_running. */
  nr: number;
  scx: number;
  /** The running task: pid 0 is the idle task. */
  pid: number;
  comm: string;
  idle: boolean;
  /** rq->clock, ns. */
  clock: number;
  /**
   * Read only while the CPU idles with tasks queued: its vCPU thread then. `blocked`: halted
   * in KVM (the guest chose to idle); `runnable`: in guest mode or waiting for a host CPU.
   */
  vcpu?: 'blocked' | 'runnable';
}

export interface MonitorSample {
  /** ms from the monitor's start. */
  t: number;
  cpus: CpuSample[];
}

export interface Span {
  /** ms from the monitor's start, and how long. */
  atMs: number;
  ms: number;
}

/**
 * Longest stretch (one per CPU) in which `bad(sample, cpu, previous)` held on every sample. Its
 * `ms` sums the intervals up to each of its samples for which `counts` holds (all by default);
 * `wallMs`, given when that differs, is the whole of that stretch.
 */
function longestPerCpu(
  samples: MonitorSample[],
  bad: (s: CpuSample, prev: CpuSample | undefined) => boolean,
  counts: (s: CpuSample) => boolean = () => true,
): Array<Span & { cpu: number; wallMs?: number }> {
  const cpus = samples[0]?.cpus.length ?? 0;
  return Array.from({ length: cpus }, (_, cpu) => {
    let best = { atMs: 0, ms: 0, wallMs: 0 };
    let cur: typeof best | undefined;
    samples.forEach((s, i) => {
      const c = s.cpus[cpu]!;
      if (!bad(c, samples[i - 1]?.cpus[cpu])) {
        cur = undefined;
        return;
      }
      if (!cur) cur = { atMs: s.t, ms: 0, wallMs: 0 };
      else {
        if (counts(c)) cur.ms += s.t - samples[i - 1]!.t;
        cur.wallMs = s.t - cur.atMs; // the best one too, while it is the current one
      }
      if (cur.ms > best.ms) best = cur;
    });
    const { atMs, ms, wallMs } = best;
    return { cpu, atMs, ms, ...(wallMs !== ms ? { wallMs } : {}) };
  });
}

/** A stretch of the monitor's clock (ms): while a scheduler under test was attached, for one. */
export interface Window {
  fromMs: number;
  toMs: number;
}

/**
 * The samples of each window, apart: checks run on each, so a stretch never spans a gap
 * between two windows. No windows: the whole trace is one.
 */
export function samplesIn(samples: MonitorSample[], windows: Window[] | undefined): MonitorSample[][] {
  if (!windows) return [samples];
  return windows.map((w) => samples.filter((s) => s.t >= w.fromMs && s.t <= w.toMs));
}

/**
 * Per CPU, the longest runqueue stall: online, with runnable tasks, yet running its idle task.
 * Only time its vCPU was halted counts. A scheduler that leaves a task queued on an idle CPU
 * (no kick, nothing dispatched) leaves that vCPU halted; a runnable vCPU thread is on its way
 * to run the task, the host just has not run it yet. In the sandbox, two VMs on two cores, the
 * scaffold's scenario showed 5-19 sample stretches of up to 500 ms with the vCPU runnable in
 * every sample (90% of all idle-with-queued samples), and failed its 500 ms gate on one.
 */
export function runqueueStalls(samples: MonitorSample[]): Array<Span & { cpu: number; wallMs?: number }> {
  return longestPerCpu(samples, idleWithQueued, (c) => c.vcpu !== 'runnable');
}

/**
 * Per CPU, the longest stretch idle with tasks queued whatever its vCPU did: the bound on what
 * runqueueStalls discounts, since a vCPU that loops through the idle path without running the
 * task (a kick storm, a dispatch that never dispatches) is runnable too.
 */
export function runqueueStallStretches(samples: MonitorSample[]): Array<Span & { cpu: number }> {
  return longestPerCpu(samples, idleWithQueued);
}

const idleWithQueued = (c: CpuSample) => c.online && c.nr > 0 && c.idle;

/**
 * Per CPU, the longest stretch in which its runqueue clock stood still while it was online with
 * runnable tasks. Under emulation a vCPU that the host does not run looks the same: gate it
 * with room for that.
 */
export function clockStalls(samples: MonitorSample[]): Array<Span & { cpu: number }> {
  return longestPerCpu(samples, (c, prev) => c.online && c.nr > 0 && prev?.online === true && prev.clock === c.clock);
}

/** The longest stretch in which one online CPU had at least `queued` runnable tasks while another online CPU idled with none. */
export function longestImbalance(samples: MonitorSample[], queued = 2): Span & { busyCpu?: number; idleCpu?: number } {
  let best: Span & { busyCpu?: number; idleCpu?: number } = { atMs: 0, ms: 0 };
  let start: number | undefined;
  for (const s of samples) {
    const busy = s.cpus.findIndex((c) => c.online && c.nr >= queued);
    const idle = s.cpus.findIndex((c) => c.online && c.nr === 0 && c.idle);
    if (busy >= 0 && idle >= 0) {
      start ??= s.t;
      if (s.t - start > best.ms) best = { atMs: start, ms: s.t - start, busyCpu: busy, idleCpu: idle };
    } else start = undefined;
  }
  return best;
}

// The monitor's part of a scenario result, and its gates (expect.monitor).
import type { MonitorGates } from '../scenario/monitor-schema.ts';
import { clockStalls, longestImbalance, type MonitorSample, runqueueStallStretches, runqueueStalls, samplesIn, type Span, type Window } from './checks.ts';

export interface MonitorResult {
  hz: number;
  /** Samples taken, and over how long (ms). */
  samples: number;
  spanMs: number;
  /** Per CPU, the longest runqueue stall seen (runnable tasks, idle task running, its vCPU halted; `wallMs`: the stretch with the time its vCPU was runnable). */
  rqStalls: Array<Span & { cpu: number; wallMs?: number }>;
  /** Per CPU, the longest stretch idle with tasks queued whatever its vCPU did (the bound on what rqStalls discounts). */
  rqStallStretches: Array<Span & { cpu: number }>;
  /** Per CPU, the longest its runqueue clock stood still with runnable tasks. */
  clockStalls: Array<Span & { cpu: number }>;
  /** The longest imbalance seen (a CPU with 2+ runnable tasks while another idled). */
  imbalance: Span & { busyCpu?: number; idleCpu?: number };
  /** Host time per sample (µs): what the monitor itself costs, on the host's thread. */
  costUsPerSample: number;
  /** The stretches the checks covered (ms on the monitor's clock): while the scheduler was attached; absent: the whole trace. */
  checked?: Window[];
  /** Every sample (for timelines and your own checks). */
  trace: MonitorSample[];
  /** Why sampling did not start, if it did not. */
  note?: string;
  /** Why sampling stopped before the VM ended, if it did: the checks saw only part of the run. */
  stoppedEarly?: string;
}

const rounded = <T extends Span & { wallMs?: number }>(s: T): T => ({ ...s, atMs: Math.round(s.atMs), ms: Math.round(s.ms), ...(s.wallMs !== undefined ? { wallMs: Math.round(s.wallMs) } : {}) });

export interface MonitorEnd {
  note?: string | undefined;
  stoppedEarly?: string | undefined;
  costMs?: number | undefined;
  /** Check only these stretches (the scheduler's): boot and the kernel's own scheduler are not under test. */
  windows?: Window[] | undefined;
}

/** Per CPU, the longest span over all parts. */
function longestOver<T extends Span & { cpu: number }>(parts: T[][]): T[] {
  const best = new Map<number, T>();
  for (const spans of parts) for (const s of spans) if (!best.has(s.cpu) || s.ms > best.get(s.cpu)!.ms) best.set(s.cpu, s);
  return [...best.values()].sort((a, b) => a.cpu - b.cpu);
}

export function monitorResult(hz: number, trace: MonitorSample[], { note, stoppedEarly, costMs = 0, windows }: MonitorEnd = {}): MonitorResult {
  const parts = samplesIn(trace, windows);
  const imbalances = parts.map((p) => longestImbalance(p));
  return {
    hz,
    samples: trace.length,
    costUsPerSample: trace.length ? Math.round((costMs * 1000) / trace.length) : 0,
    spanMs: Math.round(trace.at(-1)?.t ?? 0),
    rqStalls: longestOver(parts.map(runqueueStalls)).map(rounded),
    rqStallStretches: longestOver(parts.map(runqueueStallStretches)).map(rounded),
    clockStalls: longestOver(parts.map(clockStalls)).map(rounded),
    imbalance: imbalances.reduce((a, b) => (b.ms > a.ms ? b : a), { atMs: 0, ms: 0 }),
    ...(windows ? { checked: windows.map((w) => ({ fromMs: Math.round(w.fromMs), toMs: Math.round(w.toMs) })) } : {}),
    trace,
    ...(note ? { note } : {}),
    ...(stoppedEarly ? { stoppedEarly } : {}),
  };
}

/**
 * How far past max_rq_stall_ms a stretch idle with tasks queued may run while its vCPU was
 * runnable (not counted as stalled): in the sandbox, two VMs on two cores, such stretches
 * reached 500 ms.
 */
export const RQ_STRETCH_FACTOR = 4;

/** expect.monitor on a run: what exceeded its bound, or undefined. */
export function monitorGate(file: string, gates: MonitorGates | undefined, r: MonitorResult | undefined): string | undefined {
  if (!gates) return undefined;
  if (!r || r.samples === 0) return `expect.monitor of ${file}: the monitor took no samples${r?.note ? ` (${r.note})` : ''}`;
  const failures: string[] = [];
  if (r.checked?.length === 0) failures.push('the monitor saw no time with the scheduler attached, so nothing was checked');
  // A trace that ends early would pass gates on what it never saw.
  if (r.stoppedEarly) failures.push(`the monitor stopped ${r.spanMs} ms in, before the VM ended (${r.stoppedEarly}): its checks saw only part of the run`);
  const worst = <T extends Span & { cpu: number }>(spans: T[]) => [...spans].sort((a, b) => b.ms - a.ms)[0];
  const stall = worst(r.rqStalls);
  const stretch = worst(r.rqStallStretches ?? []);
  const bound = gates.max_rq_stall_ms;
  if (bound !== undefined && stall && stall.ms > bound) {
    failures.push(
      `max_rq_stall_ms ${bound}: CPU ${stall.cpu} ran its idle task with runnable tasks queued for ${stall.ms} ms with its vCPU halted${stall.wallMs !== undefined ? ` (of a ${stall.wallMs} ms stretch)` : ''}, from ${stall.atMs} ms into the monitor`,
    );
  } else if (bound !== undefined && stretch && stretch.ms > RQ_STRETCH_FACTOR * bound) {
    failures.push(
      `max_rq_stall_ms ${bound}: CPU ${stretch.cpu} ran its idle task with runnable tasks queued for ${stretch.ms} ms, from ${stretch.atMs} ms into the monitor; its vCPU was runnable for much of it, but a stretch over ${RQ_STRETCH_FACTOR}x the bound fails whatever the vCPU did (an idle path looping without running the task keeps it runnable)`,
    );
  }
  const still = worst(r.clockStalls);
  if (gates.max_clock_stall_ms !== undefined && still && still.ms > gates.max_clock_stall_ms) {
    failures.push(`max_clock_stall_ms ${gates.max_clock_stall_ms}: CPU ${still.cpu}'s runqueue clock stood still with runnable tasks for ${still.ms} ms, from ${still.atMs} ms into the monitor`);
  }
  if (gates.max_imbalance_ms !== undefined && r.imbalance.ms > gates.max_imbalance_ms) {
    failures.push(
      `max_imbalance_ms ${gates.max_imbalance_ms}: CPU ${r.imbalance.busyCpu} held 2+ runnable tasks while CPU ${r.imbalance.idleCpu} idled, for ${Math.round(r.imbalance.ms)} ms from ${Math.round(r.imbalance.atMs)} ms`,
    );
  }
  return failures.length ? `expect.monitor of ${file}: ${failures.join('; ')}` : undefined;
}

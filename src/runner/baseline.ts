// A baseline run (`workload.baseline: default`): the same workload in the same VM under the
// kernel's default scheduler, before the scenario's starts. The ratios here are scenario over
// baseline, per group and for the CPUs' busy share; the *_vs_baseline gates read them.
import { round3, type GroupMetrics, type WorkloadResult } from '../fixtures/workload/metrics.ts';

export interface GroupRatios {
  name: string;
  /** Rounds of work: above 1, the scenario's scheduler got more done. */
  rounds: number;
  cpuMs: number;
  /** Longest gap: above 1, a thread waited longer under the scenario's scheduler. */
  maxGap: number;
  /** pingpong and periodic groups. */
  wakeLatencyP99?: number;
}

export interface BaselineRatios {
  groups: GroupRatios[];
  /** Mean CPU busy share, scenario over baseline. */
  cpuBusy: number;
}

export interface WorkloadBaseline {
  /** The baseline run: the kernel's default scheduler. */
  workload: WorkloadResult;
  /** When the scenario's run finished too. */
  ratios?: BaselineRatios;
}

/** a / b, with 0 / 0 = 1 (nothing on either side) and x / 0 = Infinity. */
export function ratio(a: number, b: number): number {
  if (b === 0) return a === 0 ? 1 : Infinity;
  return round3(a / b);
}

/** The CPUs' mean busy share over the run. */
export const meanCpuBusy = (w: WorkloadResult) => (w.cpus.length ? w.cpus.reduce((a, c) => a + c.busy, 0) / w.cpus.length : 0);

/** The CPUs' mean busy share, scenario over baseline. */
export const cpuBusyRatio = (w: WorkloadResult, base: WorkloadResult) => ratio(meanCpuBusy(w), meanCpuBusy(base));

export function groupRatios(g: GroupMetrics, base: GroupMetrics): GroupRatios {
  const p99 = g.wakeLatency && base.wakeLatency ? { wakeLatencyP99: ratio(g.wakeLatency.p99Us, base.wakeLatency.p99Us) } : {};
  return { name: g.name, rounds: ratio(g.rounds, base.rounds), cpuMs: ratio(g.cpuMs, base.cpuMs), maxGap: ratio(g.maxGapMs, base.maxGapMs), ...p99 };
}

export function compareWithBaseline(w: WorkloadResult, base: WorkloadResult): BaselineRatios {
  const byName = new Map(base.groups.map((g) => [g.name, g]));
  return {
    groups: w.groups.flatMap((g) => {
      const b = byName.get(g.name);
      return b ? [groupRatios(g, b)] : [];
    }),
    cpuBusy: cpuBusyRatio(w, base),
  };
}

/** The ratios as the lines a failure (and `schedvm run`) prints. */
export function ratioTable(r: BaselineRatios): string {
  const rows = r.groups.map((g) => `  ${g.name.padEnd(12)} rounds x${g.rounds}  cpu x${g.cpuMs}  longest gap x${g.maxGap}${g.wakeLatencyP99 !== undefined ? `  wake p99 x${g.wakeLatencyP99}` : ''}`);
  return [`against the default scheduler (scenario / baseline): CPU busy x${r.cpuBusy}`, ...rows].join('\n');
}

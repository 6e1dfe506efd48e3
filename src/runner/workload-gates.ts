// Scheduling-behaviour gates: expect.workload of a scenario (and the matchers, which ask for one
// gate at a time) checked against the workload's measurements. A failure names the gate, the
// group and the measured value, and shows the per-thread table.
import type { GroupMetrics, ThreadMetrics, WorkloadResult } from '../fixtures/workload/metrics.ts';
import { compareWithBaseline, cpuBusyRatio, groupRatios, ratioTable } from './baseline.ts';
import type { Scenario } from './scenario/schema.ts';
import type { GroupGates, WorkloadGates } from './scenario/workload-schema.ts';

export type GroupGateName = keyof GroupGates;

interface GateRule {
  /** The measured value of a group (against its baseline run's), or undefined when the gate does not apply to it. */
  measure(g: GroupMetrics, base?: GroupMetrics): number | undefined;
  unit: string;
  what: string;
  /** A lower bound (default: an upper bound). */
  atLeast?: true;
}

/** Every group gate: an upper bound on what it measures, unless atLeast. */
export const GROUP_GATES: Record<GroupGateName, GateRule> = {
  max_gap_ms: { measure: (g) => g.maxGapMs, unit: 'ms', what: 'longest gap without a round of work' },
  fairness_spread: { measure: (g) => (g.threads > 1 ? g.fairnessSpread : undefined), unit: '', what: 'CPU-time spread (max/min - 1)' },
  wake_latency_p99_us: { measure: (g) => g.wakeLatency?.p99Us, unit: 'us', what: 'wake latency p99' },
  wake_latency_max_us: { measure: (g) => g.wakeLatency?.maxUs, unit: 'us', what: 'wake latency max' },
  max_migrations_per_s: { measure: (g) => g.migrationsPerS, unit: '/s', what: 'migrations' },
  max_cross_llc_migrations_per_s: { measure: (g) => g.crossLlcMigrationsPerS, unit: '/s', what: 'cross-LLC migrations' },
  max_cross_node_migrations_per_s: { measure: (g) => g.crossNodeMigrationsPerS, unit: '/s', what: 'cross-node migrations' },
  max_missed_periods: { measure: (g) => (g.kind === 'periodic' ? g.missedPeriods : undefined), unit: '', what: 'missed periods' },
  max_rounds_cv: { measure: (g) => (g.threads > 1 ? g.roundsCv : undefined), unit: '', what: 'rounds coefficient of variation' },
  rounds_vs_baseline: { measure: (g, b) => (b ? groupRatios(g, b).rounds : undefined), unit: 'x', what: 'rounds of work against the baseline', atLeast: true },
  max_gap_vs_baseline: { measure: (g, b) => (b ? groupRatios(g, b).maxGap : undefined), unit: 'x', what: 'longest gap against the baseline' },
  wake_latency_p99_vs_baseline: { measure: (g, b) => (b ? groupRatios(g, b).wakeLatencyP99 : undefined), unit: 'x', what: 'wake latency p99 against the baseline' },
};

export interface GateFailure {
  gate: string;
  group?: string;
  measured: number;
  limit: number;
  message: string;
}

/** One group gate against one group (or every group), with the baseline run when there is one: its failures. */
export function checkGroupGate(w: WorkloadResult, gate: GroupGateName, limit: number, group?: string, baseline?: WorkloadResult): GateFailure[] {
  const rule = GROUP_GATES[gate];
  return w.groups.flatMap((g) => {
    // Command groups are measured, not gated: their threads do not time rounds.
    if ((group !== undefined && g.name !== group) || g.kind === 'command') return [];
    const measured = rule.measure(
      g,
      baseline?.groups.find((b) => b.name === g.name),
    );
    if (measured === undefined || (rule.atLeast ? measured >= limit : measured <= limit)) return [];
    const unit = rule.unit ? ` ${rule.unit}` : '';
    return [{ gate, group: g.name, measured, limit, message: `${gate}: group ${g.name}: ${rule.what} ${measured}${unit} is ${rule.atLeast ? 'below' : 'above'} ${limit}${unit}` }];
  });
}

export function checkMinCpuBusy(w: WorkloadResult, limit: number): GateFailure[] {
  const idlest = w.cpus.reduce<WorkloadResult['cpus'][number] | undefined>((m, c) => (m === undefined || c.busy < m.busy ? c : m), undefined);
  if (!idlest || idlest.busy >= limit) return [];
  return [
    {
      gate: 'min_cpu_busy',
      measured: idlest.busy,
      limit,
      message: `min_cpu_busy: CPU ${idlest.cpu} was busy ${idlest.busy} of the time, below ${limit} (per CPU: ${w.cpus.map((c) => `${c.cpu}:${c.busy}`).join(' ')})`,
    },
  ];
}

export function checkCpuBusyVsBaseline(w: WorkloadResult, baseline: WorkloadResult, limit: number): GateFailure[] {
  const measured = cpuBusyRatio(w, baseline);
  if (measured >= limit) return [];
  return [{ gate: 'cpu_busy_vs_baseline', measured, limit, message: `cpu_busy_vs_baseline: the CPUs' mean busy share against the baseline x${measured} is below x${limit}` }];
}

/** What is wrong with the run itself (`run`: which one; `exit`: its status, when it ended): no measurements, or a failed program. */
export function workloadRunProblem(w: WorkloadResult | undefined, run = 'the workload program', exit?: number): string | undefined {
  if (!w) return `${run} printed no measurements (${exit === undefined ? 'it did not run to its end' : `it exited with ${exit} first`}: see the console)`;
  if (w.exitStatus !== undefined && w.exitStatus !== 0) return `${run} exited with ${w.exitStatus} (a thread failed: see the console)`;
  const gone = w.groups.find((g) => g.kind === 'command' && w.threads.some((t) => t.group === g.name && t.error));
  if (gone) return `${run}: command group ${gone.name} had no thread left at the end (its command ended early: see its output in the console)`;
  return undefined;
}

/** Whether the scenario declares any workload gate (expect.workload, a group's own expect, or a command group). */
export function hasWorkloadGates(s: Scenario): boolean {
  // A command group is a gate of its own: its command must still run at the end.
  return s.expect.workload !== undefined || (s.workload?.groups ?? []).some((g) => (g.expect !== undefined && Object.keys(g.expect).length > 0) || g.kind === 'command');
}

/**
 * Every gate of expect.workload, each group's own `expect` over the top-level ones; `baseline`:
 * the baseline run, when the scenario asks for one.
 */
export function workloadGateFailures(s: Scenario, w: WorkloadResult | undefined, baseline?: WorkloadResult): GateFailure[] {
  if (!hasWorkloadGates(s)) return [];
  const gates: WorkloadGates | undefined = s.expect.workload;
  const own = new Map((s.workload?.groups ?? []).map((g) => [g.name, g.expect ?? {}]));
  const problem = workloadRunProblem(w) ?? (s.workload?.baseline ? workloadRunProblem(baseline, 'the baseline run') : undefined);
  if (problem) return [{ gate: 'workload', measured: NaN, limit: NaN, message: problem }];
  const out: GateFailure[] = [];
  for (const g of w!.groups) {
    const merged: GroupGates = { ...pickGroupGates(gates ?? {}), ...own.get(g.name) };
    for (const [gate, limit] of Object.entries(merged) as Array<[GroupGateName, number | undefined]>) {
      if (limit !== undefined) out.push(...checkGroupGate(w!, gate, limit, g.name, baseline));
    }
  }
  if (gates?.min_cpu_busy !== undefined) out.push(...checkMinCpuBusy(w!, gates.min_cpu_busy));
  if (gates?.cpu_busy_vs_baseline !== undefined && baseline) out.push(...checkCpuBusyVsBaseline(w!, baseline, gates.cpu_busy_vs_baseline));
  return out;
}

function pickGroupGates(g: WorkloadGates): GroupGates {
  const { min_cpu_busy: _, cpu_busy_vs_baseline: __, ...groupGates } = g;
  return groupGates;
}

const pad = (s: string | number, n: number) => String(s).padStart(n);

/** The per-thread table a failure prints (and the per-CPU busy shares). */
export function threadTable(w: WorkloadResult): string {
  const head = `${'thread'.padEnd(14)} ${pad('cpu ms', 9)} ${pad('wait ms', 9)} ${pad('gap ms', 9)} ${pad('rounds', 9)} ${pad('migr', 6)} ${pad('llc', 5)} ${pad('node', 5)} ${pad('invol', 7)}`;
  const row = (t: ThreadMetrics) =>
    `${`${t.group}-${t.index}`.padEnd(14)} ${pad(t.cpuMs.toFixed(1), 9)} ${pad(t.waitMs.toFixed(1), 9)} ${pad(t.maxGapMs.toFixed(1), 9)} ${pad(t.rounds, 9)} ` +
    `${pad(t.migrations, 6)} ${pad(t.crossLlcMigrations, 5)} ${pad(t.crossNodeMigrations, 5)} ${pad(t.involuntarySwitches, 7)}${t.error ? '  FAILED' : ''}`;
  const latency = w.groups.flatMap((g) =>
    g.wakeLatency ? [`  ${g.name}: wake latency p50 ${g.wakeLatency.p50Us} us, p99 ${g.wakeLatency.p99Us} us, max ${g.wakeLatency.maxUs} us (${g.wakeLatency.samples} wakes)`] : [],
  );
  return [`workload: ${w.durationMs.toFixed(0)} ms`, `  ${head}`, ...w.threads.map((t) => `  ${row(t)}`), ...latency, `  CPU busy: ${w.cpus.map((c) => `${c.cpu}:${c.busy}`).join(' ')}`].join('\n');
}

/** The gate failures of a run as one message for the environment and `schedvm run`, or undefined. */
export function workloadGateMessage(file: string, s: Scenario, w: WorkloadResult | undefined, baseline?: WorkloadResult): string | undefined {
  const failures = workloadGateFailures(s, w, baseline);
  if (failures.length === 0) return undefined;
  const base = w && baseline ? `\n\nbaseline (the kernel's default scheduler), ${threadTable(baseline)}\n\n${ratioTable(compareWithBaseline(w, baseline))}` : '';
  return `expect.workload of ${file}:\n${failures.map((f) => `  ${f.message}`).join('\n')}${w ? `\n\n${threadTable(w)}` : ''}${base}`;
}

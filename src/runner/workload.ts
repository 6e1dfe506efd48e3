// A scenario's workload as the guest runs it (the workload program packed into the initramfs,
// its shell under the scheduler or, without one, after the guest's report) and its measurements
// read back from the console.
import { buildWorkload, WORKLOAD_GUEST_PATH } from '../fixtures/workload/build.ts';
import { type CgroupSpec, workloadShell, type GroupSpec, type WorkloadKind, type WorkloadRun, type WorkloadSpec } from '../fixtures/workload/command.ts';
import { parseWorkload, parseWorkloadExit, type WorkloadResult } from '../fixtures/workload/metrics.ts';
import { flatTopology } from '../vmm/topology.ts';
import type { Scenario } from './scenario/schema.ts';
import type { WorkloadGroup } from './scenario/workload-schema.ts';

export interface WorkloadPayload {
  files: Array<{ host: string; guest: string }>;
  /** Shell lines that run the program and report its exit status. */
  shell: string[];
  /** With `workload.baseline: default`: the same run, before the scheduler starts. */
  baseline?: string[];
}

function cgroupSpec(path: string, c: { cpu_weight?: number | undefined; cpuset?: number[] | undefined }): CgroupSpec {
  return { path, ...(c.cpu_weight !== undefined ? { cpuWeight: c.cpu_weight } : {}), ...(c.cpuset ? { cpuset: c.cpuset } : {}) };
}

function groupSpec(g: WorkloadGroup, vcpus: number): GroupSpec {
  if (g.kind === 'command') return { name: g.name, kind: 'command', threads: 1, nice: 0, policy: 'normal', priority: 0, command: g.command! };
  const threads = g.kind === 'pingpong' ? (g.threads ?? 2 * (g.pairs ?? Math.max(1, Math.floor(vcpus / 2)))) : (g.threads ?? vcpus);
  const periodic = g.kind === 'periodic' ? { periodUs: g.period_us!, runUs: g.run_us ?? Math.floor(g.period_us! / 10) } : {};
  return {
    name: g.name,
    kind: g.kind,
    threads,
    nice: g.nice,
    policy: g.policy,
    priority: g.policy === 'fifo' || g.policy === 'rr' ? (g.priority ?? 1) : 0,
    ...(g.cpus ? { cpus: g.cpus } : {}),
    ...periodic,
    ...(g.cgroup ? { cgroup: cgroupSpec(g.cgroup.path, g.cgroup) } : {}),
  };
}

/**
 * What the workload program runs for `s`, or undefined when it runs none: a scenario with a
 * scheduler runs its groups (default: one spin thread per vCPU), one without runs only the groups
 * it declares; a workload shell is not the program.
 */
export function workloadSpec(s: Scenario): WorkloadSpec | undefined {
  const w = s.workload;
  if (w?.shell !== undefined || (w === undefined && s.scheduler === undefined)) return undefined;
  const groups = w?.groups?.map((g) => groupSpec(g, s.vcpus)) ?? [{ name: 'spin', kind: 'spin' as const, threads: w?.threads ?? s.vcpus, nice: 0, policy: 'normal' as const, priority: 0 }];
  const moves = (s.steps ?? []).flatMap((st) => (st.cgroup_move ? [cgroupSpec(st.cgroup_move.to, st.cgroup_move)] : []));
  return { seconds: w?.duration_s ?? 5, groups, topology: s.topology ?? flatTopology(s.vcpus), ...(moves.length ? { cgroups: moves } : {}) };
}

export async function workloadPayload(s: Scenario): Promise<WorkloadPayload | undefined> {
  const spec = workloadSpec(s);
  if (!spec) return undefined;
  return {
    files: [{ host: await buildWorkload(), guest: WORKLOAD_GUEST_PATH }],
    shell: workloadShell(WORKLOAD_GUEST_PATH, spec),
    ...(s.workload?.baseline === 'default' ? { baseline: workloadShell(WORKLOAD_GUEST_PATH, spec, 'baseline') } : {}),
  };
}

/** The workload program's measurements of run `which` in a finished run's console, when `s` runs it. */
export function workloadResult(s: Scenario, consoleText: string, which: WorkloadRun = 'scenario'): WorkloadResult | undefined {
  const spec = workloadSpec(s);
  if (!spec) return undefined;
  const kinds: Record<string, WorkloadKind> = Object.fromEntries(spec.groups.map((g) => [g.name, g.kind]));
  return parseWorkload(consoleText, kinds, which);
}

/** The workload program's exit status per run that ended (baseline first), when `s` runs it. */
export function workloadExits(s: Scenario, consoleText: string): Partial<Record<WorkloadRun, number>> | undefined {
  if (!workloadSpec(s)) return undefined;
  const runs: WorkloadRun[] = s.workload?.baseline !== undefined ? ['baseline', 'scenario'] : ['scenario'];
  const exits = runs.flatMap((run) => {
    const status = parseWorkloadExit(consoleText, run);
    return status === undefined ? [] : [[run, status] as const];
  });
  return exits.length ? Object.fromEntries(exits) : undefined;
}

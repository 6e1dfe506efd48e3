// The scenario's `workload:` (named groups of threads, or the default) and `expect.workload`
// (the behaviour gates), as zod schemas; the scenario schema places them.
import { z } from 'zod';
import { WORKLOAD_KINDS, WORKLOAD_POLICIES } from '../../fixtures/workload/command.ts';

const ms = z.number().positive();

/** Gates that hold per group: at the top of expect.workload for every group, or in a group's own `expect`. */
const groupGateFields = {
  max_gap_ms: ms.optional().describe('Starvation: no thread of the group may go longer than this without finishing a round of work.'),
  fairness_spread: z.number().min(0).optional().describe("Fairness: the group's largest thread CPU time over its smallest, minus 1 (0.2: within 20%)."),
  wake_latency_p99_us: ms.optional().describe('pingpong and periodic groups: the 99th percentile of wake-up latency.'),
  wake_latency_max_us: ms.optional().describe('pingpong and periodic groups: the largest wake-up latency.'),
  max_migrations_per_s: z.number().min(0).optional().describe("Migrations (a thread's round ending on another CPU than its last) per second, over the group."),
  max_cross_llc_migrations_per_s: z.number().min(0).optional().describe('Migrations between LLCs of the declared topology per second, over the group.'),
  max_cross_node_migrations_per_s: z.number().min(0).optional().describe('Migrations between NUMA nodes of the declared topology per second, over the group.'),
  max_missed_periods: z.int().min(0).optional().describe('periodic groups: periods missed, over the group.'),
  max_rounds_cv: z.number().min(0).optional().describe("Throughput evenness: the coefficient of variation of the group's rounds per thread."),
  rounds_vs_baseline: z
    .number()
    .positive()
    .optional()
    .describe("With workload.baseline: the group's rounds of work at least this share of the baseline's (0.8: no more than 20% slower than the kernel's default scheduler)."),
  max_gap_vs_baseline: z.number().positive().optional().describe("With workload.baseline: the group's longest gap at most this multiple of the baseline's."),
  wake_latency_p99_vs_baseline: z.number().positive().optional().describe("With workload.baseline, pingpong and periodic groups: wake latency p99 at most this multiple of the baseline's."),
};

/** Gates that compare with the baseline run (they need workload.baseline). */
export const BASELINE_GATES = ['rounds_vs_baseline', 'max_gap_vs_baseline', 'wake_latency_p99_vs_baseline', 'cpu_busy_vs_baseline'] as const;

export const groupGatesSchema = z.strictObject(groupGateFields);

export const workloadGatesSchema = z
  .strictObject({
    ...groupGateFields,
    min_cpu_busy: z.number().min(0).max(1).optional().describe('Every CPU of the VM was busy at least this share of the workload (0.9: 90%).'),
    cpu_busy_vs_baseline: z
      .number()
      .positive()
      .optional()
      .describe("With workload.baseline: the CPUs' mean busy share at least this share of the baseline's (work conservation against the kernel's default scheduler)."),
  })
  .describe(
    'Scheduling-behaviour gates: the schedvm environment fails the test file, and `schedvm run` exits non-zero, naming the gate, the group and the measured value. Top-level gates hold for every group they apply to; a group overrides them in its own `expect`.',
  );

/** A cgroup's path inside the workload's tree (a group's cgroup, a cgroup_move step's target). */
export const cgroupPathSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/, "expected a relative path of names (letters, digits, _ . -) joined by '/'")
  .refine((p) => !p.split('/').some((seg) => seg === '.' || seg === '..'), { error: "stays inside the workload's cgroup tree: no '.' or '..' in the path" });

/** cpu.weight and cpuset.cpus of a cgroup the guest creates. */
export const cgroupSettings = {
  cpu_weight: z.int().min(1).max(10000).optional().describe("cpu.weight of the cgroup (default the kernel's 100)."),
  cpuset: z.array(z.int().min(0)).min(1).optional().describe('cpuset.cpus of the cgroup: the CPUs its threads may run on.'),
};

/** Two declarations of one cgroup must set it up alike. */
export const sameCgroupSettings = (a: { cpu_weight?: number | undefined; cpuset?: number[] | undefined }, b: typeof a) =>
  JSON.stringify([a.cpu_weight, a.cpuset]) === JSON.stringify([b.cpu_weight, b.cpuset]);

const cgroupSchema = z
  .strictObject({
    path: cgroupPathSchema.describe('The cgroup, relative to the tree the guest creates for the workload (cgroup v2, threaded): `batch`, `tenants/a`.'),
    ...cgroupSettings,
  })
  .describe('A cgroup v2 group the guest creates (threaded, so each group of threads can have its own), with cpu.weight and cpuset.cpus.');

export type WorkloadCgroup = z.output<typeof cgroupSchema>;

const groupSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,9}$/, 'expected 1 to 10 lower-case letters, digits or _, starting with a letter (threads are named <name>-<n>, and Linux keeps 15 characters)')
      .describe('Group name: its threads are named <name>-<n> (a scheduler, and a fault, can tell groups apart by comm).'),
    kind: z
      .enum(WORKLOAD_KINDS)
      .describe(
        "spin: compute; yield: compute and sched_yield; pingpong: pairs waking each other through pipes (wake latency); periodic: wake every period_us, run run_us (wake latency, missed periods); fork: fork and reap children; affinity: compute, moving itself across its allowed CPUs; command: `command` (host programs from workload.programs) in a cgroup of its own, its threads' CPU and wait time measured at the end, not gated.",
      ),
    command: z.string().min(1).optional().describe("kind command: the shell command the group runs for the workload's duration (then killed), e.g. `stress-ng --cpu 2`."),
    threads: z.int().min(1).max(1024).optional().describe('Threads in the group (default: one per vCPU; pingpong: 2 per pair).'),
    pairs: z.int().min(1).max(512).optional().describe('pingpong: pairs of threads (instead of threads).'),
    nice: z.int().min(-20).max(19).default(0).describe('Nice value of every thread.'),
    policy: z.enum(WORKLOAD_POLICIES).default('normal').describe('Scheduling policy: normal (SCHED_OTHER or SCHED_EXT under a scheduler), batch, idle, fifo, rr.'),
    priority: z.int().min(1).max(99).optional().describe('fifo and rr: the real-time priority (default 1).'),
    cpus: z.array(z.int().min(0)).min(1).optional().describe('Affinity: the CPUs the threads may run on (default: all).'),
    cgroup: cgroupSchema.optional(),
    period_us: z.int().min(100).optional().describe('periodic: the period.'),
    run_us: z.int().min(0).optional().describe('periodic: work done each period (default a tenth of it).'),
    expect: groupGatesSchema.optional().describe('Gates for this group only, over those of expect.workload.'),
  })
  .superRefine((g, ctx) => {
    if (g.kind === 'command') {
      if (g.command === undefined) ctx.addIssue({ code: 'custom', path: ['command'], message: 'a command group needs command (a shell command)' });
      const own = {
        threads: g.threads,
        pairs: g.pairs,
        priority: g.priority,
        cpus: g.cpus,
        cgroup: g.cgroup,
        expect: g.expect,
        period_us: g.period_us,
        run_us: g.run_us,
        nice: g.nice || undefined,
        policy: g.policy === 'normal' ? undefined : g.policy,
      };
      for (const [f, v] of Object.entries(own)) {
        if (v !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: [f],
            message:
              f === 'expect'
                ? "command groups are measured, not gated (their threads are not the workload program's to time)"
                : "is for the workload program's kinds: set it in the command (nice, taskset, ...)",
          });
      }
      return;
    }
    if (g.command !== undefined) ctx.addIssue({ code: 'custom', path: ['command'], message: 'is for kind command' });
    if (g.pairs !== undefined && g.kind !== 'pingpong') ctx.addIssue({ code: 'custom', path: ['pairs'], message: 'is for kind pingpong (others take threads)' });
    if (g.kind === 'pingpong' && g.threads !== undefined && g.threads % 2 !== 0)
      ctx.addIssue({ code: 'custom', path: ['threads'], message: 'pingpong threads come in pairs: give an even number, or pairs' });
    if (g.kind === 'pingpong' && g.threads !== undefined && g.pairs !== undefined) ctx.addIssue({ code: 'custom', path: ['pairs'], message: 'give threads or pairs, not both' });
    if (g.kind === 'periodic' && g.period_us === undefined) ctx.addIssue({ code: 'custom', path: ['period_us'], message: 'a periodic group needs period_us' });
    if (g.kind !== 'periodic') {
      for (const f of ['period_us', 'run_us'] as const) if (g[f] !== undefined) ctx.addIssue({ code: 'custom', path: [f], message: 'is for kind periodic' });
    }
    if (g.period_us !== undefined && g.run_us !== undefined && g.run_us >= g.period_us) ctx.addIssue({ code: 'custom', path: ['run_us'], message: `must be below period_us (${g.period_us})` });
    if (g.priority !== undefined && g.policy !== 'fifo' && g.policy !== 'rr') ctx.addIssue({ code: 'custom', path: ['priority'], message: 'is for policy fifo or rr' });
    if (g.nice !== 0 && (g.policy === 'fifo' || g.policy === 'rr')) ctx.addIssue({ code: 'custom', path: ['nice'], message: 'real-time threads have no nice value (use priority)' });
  });

export type WorkloadGroupInput = z.input<typeof groupSchema>;
export type WorkloadGroup = z.output<typeof groupSchema>;
export type GroupGates = z.output<typeof groupGatesSchema>;
export type WorkloadGates = z.output<typeof workloadGatesSchema>;

export const workloadSchema = z
  .strictObject({
    threads: z.int().min(1).max(1024).optional().describe('Shorthand for one spin group `spin` of this many threads (default: one per vCPU).'),
    duration_s: z.number().positive().max(3600).default(5).describe('How long the workload runs.'),
    groups: z
      .array(groupSchema)
      .min(1)
      .max(32)
      .superRefine((gs, ctx) => {
        const seen = new Set<string>();
        const cgroups = new Map<string, { cg: WorkloadCgroup; group: string }>();
        gs.forEach((g, i) => {
          if (seen.has(g.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `the name '${g.name}' is used twice` });
          seen.add(g.name);
          if (!g.cgroup) return;
          // Groups may share a cgroup, but not set it up two ways.
          const other = cgroups.get(g.cgroup.path);
          if (other && !sameCgroupSettings(other.cg, g.cgroup)) {
            ctx.addIssue({ code: 'custom', path: [i, 'cgroup'], message: `cgroup '${g.cgroup.path}' has other cpu_weight or cpuset in group '${other.group}': give them once, alike` });
          }
          cgroups.set(g.cgroup.path, { cg: g.cgroup, group: g.name });
          const outside = g.cpus?.find((c) => g.cgroup!.cpuset && !g.cgroup!.cpuset.includes(c));
          if (outside !== undefined) ctx.addIssue({ code: 'custom', path: [i, 'cpus'], message: `CPU ${outside} is outside the group's cgroup cpuset (${g.cgroup.cpuset!.join(', ')})` });
        });
      })
      .optional()
      .describe('Named groups of threads running together, each measured (result `workload`) and gated (expect.workload).'),
    shell: z.string().min(1).optional().describe('Instead of the workload program: shell commands run while the scheduler is enabled (no metrics; a non-zero exit fails the test).'),
    programs: z
      .array(z.string().min(1))
      .max(32)
      .superRefine((ps, ctx) => {
        // Each lands at /usr/bin/<its name>: two of one name would overwrite each other.
        const seen = new Map<string, number>();
        ps.forEach((p, i) => {
          const name = p.slice(p.lastIndexOf('/') + 1);
          const first = seen.get(name);
          if (first !== undefined) ctx.addIssue({ code: 'custom', path: [i], message: `'${p}' lands at /usr/bin/${name} like item ${first} ('${ps[first]}'): rename one of them` });
          else seen.set(name, i);
        });
      })
      .optional()
      .describe(
        "Host programs packed into the guest as /usr/bin/<name> with their shared libraries, for command groups, workload.shell or run: a name on this host's PATH (stress-ng, hackbench) or a path relative to the scenario file.",
      ),
    baseline: z
      .enum(['default'])
      .optional()
      .describe(
        "default: the same VM runs the workload first under the kernel's default scheduler, then starts the scenario's; the result's `baseline` holds that run and the ratios, and the *_vs_baseline gates compare with it.",
      ),
  })
  .superRefine((w, ctx) => {
    const given = (['threads', 'groups', 'shell'] as const).filter((f) => w[f] !== undefined);
    if (given.length > 1) ctx.addIssue({ code: 'custom', path: [given[1]!], message: `give one of threads, groups or shell (also given: ${given[0]})` });
    if (w.baseline !== undefined && w.shell !== undefined)
      ctx.addIssue({ code: 'custom', path: ['baseline'], message: 'compares runs of the workload program: a workload shell is not measured (use groups)' });
  });

// `steps:`: lifecycle operations on a timeline under the workload (CPU hotplug, detaching,
// attaching, replacing and reloading the scheduler, moving a group to another cgroup), each at a
// time from the workload's start.
import { z } from 'zod';
import { cgroupPathSchema, cgroupSettings, sameCgroupSettings, type WorkloadGroup } from './workload-schema.ts';

export const STEP_KINDS = ['hotplug', 'detach_scheduler', 'attach_scheduler', 'replace_scheduler', 'reload', 'cgroup_move'] as const;
export type StepKind = (typeof STEP_KINDS)[number];

const schedulerName = z.string().regex(/^[\w.-]+$/, 'expected a scheduler name like scx_simple');

const stepSchema = z
  .strictObject({
    at_s: z.number().min(0).max(3600).describe("When the step starts, in seconds from the workload's start (steps run in order; a late one starts when the one before it is done)."),
    hotplug: z
      .strictObject({
        cpu: z.int().min(0).describe('The CPU to take offline or bring online (not CPU 0, which Linux cannot offline).'),
        online: z.boolean().describe('false: offline; true: online again.'),
      })
      .optional()
      .describe('CPU hotplug under the scheduler. A scheduler without ops.cpu_online/cpu_offline is exited by the kernel (unreg_kern); most loaders then attach again.'),
    detach_scheduler: z.strictObject({}).optional().describe("Stops the running scheduler's loader (SIGINT): the kernel's default scheduler takes over."),
    attach_scheduler: z.strictObject({}).optional().describe("Starts the last scheduler again (the scenario's, or the one a replace_scheduler step put in), and waits until it is enabled."),
    replace_scheduler: z
      .strictObject({
        name: schedulerName.describe('A built scheduler (as scheduler.name) that takes over.'),
        args: z.array(z.string()).default([]).describe("Its loader's arguments."),
      })
      .optional()
      .describe('Detaches the running scheduler and attaches this one; gates and the exit-kind watch follow it.'),
    reload: z
      .strictObject({ times: z.int().min(1).max(1000).describe('Detach-attach cycles, back to back.') })
      .optional()
      .describe('Detaches and attaches the running scheduler `times` times under the workload.'),
    cgroup_move: z
      .strictObject({
        group: z.string().describe('A workload group (workload.groups[].name; `spin` when none is declared): every thread of it moves.'),
        // `/slow` and `slow` are the same cgroup: a leading '/' is the workload tree's root, never /sys/fs/cgroup.
        to: z
          .string()
          .transform((p) => p.replace(/^\//, ''))
          .pipe(cgroupPathSchema)
          .describe("The cgroup it moves to, inside the workload's cgroup tree (`slow`, `/tenants/b`); created at the start when no group starts in it."),
        ...cgroupSettings,
      })
      .optional()
      .describe("Moves a workload group's threads to another cgroup under the scheduler (ops.cgroup_move); cpu_weight and cpuset set up that cgroup."),
  })
  .superRefine((s, ctx) => {
    const actions = STEP_KINDS.filter((k) => s[k] !== undefined);
    if (actions.length !== 1) ctx.addIssue({ code: 'custom', path: [], message: `give exactly one action (${STEP_KINDS.join(', ')})${actions.length ? `, not ${actions.join(' and ')}` : ''}` });
    if (s.hotplug?.cpu === 0)
      ctx.addIssue({ code: 'custom', path: ['hotplug', 'cpu'], message: `CPU 0 ${s.hotplug.online ? 'is always online' : 'cannot go offline'} (Linux keeps it): pick another CPU` });
  });

export const stepsSchema = z
  .array(stepSchema)
  .max(64)
  .describe('Lifecycle operations on a timeline while the workload runs (needs a scheduler): hotplug, detach_scheduler, attach_scheduler, replace_scheduler, reload, cgroup_move.');

export type Step = z.output<typeof stepSchema>;

/** The one action a (valid) step names. */
export function stepKind(s: Step): StepKind {
  return STEP_KINDS.find((k) => s[k] !== undefined)!;
}

type StepsScenario = { scheduler?: unknown; steps?: Step[]; workload?: { shell?: string | undefined; duration_s: number; groups?: WorkloadGroup[] | undefined } };

/** Steps need a scheduler, a CPU the smallest VM has, a time within the workload program's run, and a program group to move. */
export function checkSteps(s: StepsScenario, cpus: number, ctx: z.RefinementCtx): void {
  if (!s.steps) return;
  if (s.scheduler === undefined) ctx.addIssue({ code: 'custom', path: ['steps'], message: 'steps act on a scheduler: add scheduler' });
  // A workload shell runs as long as it does; the program runs duration_s (default 5).
  const duration = s.workload?.shell === undefined ? (s.workload?.duration_s ?? 5) : undefined;
  s.steps.forEach((step, i) => {
    if (duration !== undefined && step.at_s > duration)
      ctx.addIssue({ code: 'custom', path: ['steps', i, 'at_s'], message: `${step.at_s} s is past the workload's end (workload.duration_s: ${duration})` });
    if (step.hotplug && step.hotplug.cpu >= cpus)
      ctx.addIssue({ code: 'custom', path: ['steps', i, 'hotplug', 'cpu'], message: `CPU ${step.hotplug.cpu} is not in this VM (its CPUs are 0..${cpus - 1})` });
    if (step.cgroup_move) checkMove(s, i, step.cgroup_move, cpus, ctx);
  });
}

function checkMove(s: StepsScenario, i: number, move: NonNullable<Step['cgroup_move']>, cpus: number, ctx: z.RefinementCtx): void {
  const at = ['steps', i, 'cgroup_move'];
  if (s.workload?.shell !== undefined) {
    ctx.addIssue({ code: 'custom', path: [...at, 'group'], message: 'moves a workload program group, and a workload shell runs none: use workload.groups' });
    return;
  }
  const groups = s.workload?.groups;
  const names = groups?.map((g) => g.name) ?? ['spin']; // the default workload: one group, spin
  const group = groups?.find((g) => g.name === move.group);
  if (!names.includes(move.group)) ctx.addIssue({ code: 'custom', path: [...at, 'group'], message: `no workload group is named '${move.group}' (groups: ${names.join(', ')})` });
  else if (group?.kind === 'command')
    ctx.addIssue({ code: 'custom', path: [...at, 'group'], message: `'${move.group}' is a command group, in a cgroup of its own outside the workload's tree: move a program group` });
  const bad = move.cpuset?.find((c) => c >= cpus);
  if (bad !== undefined) ctx.addIssue({ code: 'custom', path: [...at, 'cpuset'], message: `CPU ${bad} is not in this VM (its CPUs are 0..${cpus - 1})` });
  // The target is set up once, at the start: every declaration that sets it up must agree.
  if (move.cpu_weight === undefined && move.cpuset === undefined) return;
  const others = [
    ...(groups ?? []).flatMap((g) => (g.cgroup?.path === move.to ? [{ what: `group '${g.name}'`, cg: g.cgroup }] : [])),
    ...s.steps!.slice(0, i).flatMap((st, j) => (st.cgroup_move?.to === move.to ? [{ what: `steps[${j}]`, cg: st.cgroup_move }] : [])),
  ];
  const clash = others.find((o) => (o.cg.cpu_weight !== undefined || o.cg.cpuset) && !sameCgroupSettings(o.cg, move));
  if (clash) ctx.addIssue({ code: 'custom', path: at, message: `cgroup '${move.to}' has other cpu_weight or cpuset in ${clash.what}: give them once, alike` });
}

// `steps:`: lifecycle operations on a timeline under the workload (CPU hotplug, detaching,
// attaching, replacing and reloading the scheduler), each at a time from the workload's start.
import { z } from 'zod';

export const STEP_KINDS = ['hotplug', 'detach_scheduler', 'attach_scheduler', 'replace_scheduler', 'reload'] as const;
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
    attach_scheduler: z.strictObject({}).optional().describe("Starts the scenario's scheduler again, and waits until it is enabled."),
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
  })
  .superRefine((s, ctx) => {
    const actions = STEP_KINDS.filter((k) => s[k] !== undefined);
    if (actions.length !== 1) ctx.addIssue({ code: 'custom', path: [], message: `give exactly one action (${STEP_KINDS.join(', ')})${actions.length ? `, not ${actions.join(' and ')}` : ''}` });
    if (s.hotplug && s.hotplug.cpu === 0 && !s.hotplug.online) ctx.addIssue({ code: 'custom', path: ['hotplug', 'cpu'], message: 'CPU 0 cannot go offline (Linux keeps it): pick another CPU' });
  });

export const stepsSchema = z
  .array(stepSchema)
  .max(64)
  .describe('Lifecycle operations on a timeline while the workload runs (needs a scheduler): hotplug, detach_scheduler, attach_scheduler, replace_scheduler, reload.');

export type Step = z.output<typeof stepSchema>;

/** The one action a (valid) step names. */
export function stepKind(s: Step): StepKind {
  return STEP_KINDS.find((k) => s[k] !== undefined)!;
}

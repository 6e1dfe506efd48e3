// A scenario's lifecycle steps in the result: what each did in the guest, when, and any scheduler
// exit it caused; and the gate that fails a file whose step failed in the guest.
import { parseSteps, schedulerExitInfo } from '../fixtures/schedulers/index.ts';
import type { Scenario, SchedulerExitKind } from './scenario/schema.ts';
import { stepKind } from './scenario/steps-schema.ts';
import { schedulerExitKindName } from './scheduler.ts';

export interface StepResult {
  index: number;
  kind: string;
  /** When the scenario asked for it, and when it began (seconds from the workload's start; the guest's uptime then). */
  atS: number;
  startedS?: number;
  uptimeS?: number;
  ok: boolean;
  /** Why it failed, in the guest's words. */
  message?: string;
  /** The scheduler exit it caused (a detach, a replacement, the kernel's reaction to hotplug). */
  schedulerExit?: { kind: SchedulerExitKind | 'unknown'; reason?: string; message?: string };
  /** When its start line reached the host, on the runqueue monitor's clock (ms since its start), with a monitor. */
  monitorMs?: number;
  /** When its outcome line reached the host (its effect is complete by then), on the same clock. */
  monitorEndMs?: number;
  /** reload: detach-attach cycles completed. */
  cycles?: number;
  /** cgroup_move: threads moved. */
  moved?: number;
  /** Loader output and the kernel's sched_ext lines from the step. */
  output: string[];
  dmesg: string[];
}

/** When a step's lines reached the host, on the runqueue monitor's clock (ms). */
export interface StepTimes {
  startMs?: number;
  endMs?: number;
}

export function stepsResult(s: Scenario, consoleText: string, times: ReadonlyMap<number, StepTimes> = new Map()): StepResult[] | undefined {
  if (!s.steps?.length) return undefined;
  const reported = new Map(parseSteps(consoleText).map((r) => [r.index, r]));
  return s.steps.map((step, index) => {
    const r = reported.get(index);
    if (!r) return { index, kind: stepKind(step), atS: step.at_s, ok: false, message: 'the guest never started this step', output: [], dmesg: [] };
    const exit = schedulerExitInfo(r.output, r.dmesg);
    const kind = exit.exitKind !== undefined ? (schedulerExitKindName(exit.exitKind) ?? 'unknown') : exit.exitReason !== undefined ? 'unknown' : undefined;
    return {
      index,
      kind: stepKind(step),
      atS: step.at_s,
      ...(r.startedS !== undefined ? { startedS: r.startedS } : {}),
      ...(r.uptimeS !== undefined ? { uptimeS: r.uptimeS } : {}),
      ...(times.get(index)?.startMs !== undefined ? { monitorMs: Math.round(times.get(index)!.startMs!) } : {}),
      ...(times.get(index)?.endMs !== undefined ? { monitorEndMs: Math.round(times.get(index)!.endMs!) } : {}),
      ok: r.ok,
      ...(r.message !== undefined ? { message: r.message } : {}),
      ...(kind ? { schedulerExit: { kind, ...(exit.exitReason ? { reason: exit.exitReason } : {}), ...(exit.exitMessage ? { message: exit.exitMessage } : {}) } } : {}),
      ...(r.cycles !== undefined ? { cycles: r.cycles } : {}),
      ...(r.moved !== undefined ? { moved: r.moved } : {}),
      output: r.output,
      dmesg: r.dmesg,
    };
  });
}

/** Every step must succeed in the guest: a failed one fails the file with the guest's message. */
export function stepsGate(file: string, steps: StepResult[] | undefined): string | undefined {
  const failed = (steps ?? []).filter((st) => !st.ok);
  if (failed.length === 0) return undefined;
  return failed.map((st) => `steps[${st.index}] (${st.kind} at ${st.atS} s) of ${file} failed: ${st.message ?? 'no reason given'}`).join('\n');
}

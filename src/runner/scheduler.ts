// A scenario's `scheduler:` and `workload:` as the guest runs them (loader and workload program
// packed into the initramfs, the run shell appended to /init), and the scheduler's part of the
// result, read back from the console.
import { basename } from 'node:path';
import type { Kernel } from '../fixtures/kernels/index.ts';
import { buildSchedulers, GUEST_BIN_DIR, parseSchedulerRun, SCX_EXIT, schedulerGuestFiles, schedulerRunScript, type Workload } from '../fixtures/schedulers/index.ts';
import type { WorkloadResult } from '../fixtures/workload/metrics.ts';
import type { Scenario, SchedulerExitKind } from './scenario/schema.ts';
import type { WorkloadPayload } from './workload.ts';

export interface SchedulerPayload {
  /** Host files for the initramfs (their shared libraries come along). */
  files: Array<{ host: string; guest: string }>;
  /** Shell for /init: start, wait until enabled, workload, stop, report. */
  script: string;
}

export interface SchedulerResult {
  /** The scheduler's name (a built one's, or the binary's file name). */
  name: string;
  /** `enabled` once sched_ext reported it running; `not_enabled` if it never loaded. */
  state: 'enabled' | 'not_enabled';
  /** How it ended: `none` if no exit was seen (it never loaded, or the guest went down first). */
  exitKind: SchedulerExitKind;
  /** The kernel's exit reason, e.g. "runnable task stall". */
  reason?: string;
  /** The loader's output: its exit report and debug dump. */
  dump: string[];
  /** The kernel's sched_ext lines from this run. */
  dmesg: string[];
  /** Rounds each workload thread completed (the workload program only; its full measurements are the result's `workload`). */
  progress?: number[];
  /** The exit status of a workload shell (workload.shell), when it ran. */
  workloadExit?: number;
  /** Whether the host's exit-kind watchpoint (slot 0) latched an error kind. */
  watchpointLatched: boolean;
  /** Where the host armed that watchpoint, or why it did not (then only the guest's report counts). */
  exitKindWatch: string;
}

const KIND_NAMES = new Map<number, SchedulerExitKind>(Object.entries(SCX_EXIT).map(([k, v]) => [v, k.toLowerCase() as SchedulerExitKind]));

/** `error_bpf` for 1025; undefined for a kind this schema does not name. */
export function schedulerExitKindName(kind: number): SchedulerExitKind | undefined {
  return KIND_NAMES.get(kind);
}

/**
 * With the host watching the exit kind, the guest pauses this long once the scheduler is
 * enabled: the host arms the watch (a brief freeze, a page walk) before the workload can make
 * the scheduler fail.
 */
export const HOST_ARM_PAUSE_S = 2;

/** `program`: the workload program's payload, when the scenario runs it (else its workload shell runs, if any). */
export async function schedulerPayload(s: Scenario, kernel: Kernel, program: WorkloadPayload | undefined, hostWatch = false): Promise<SchedulerPayload> {
  const sched = s.scheduler!;
  const workload: Workload | undefined = program ? { program: program.shell } : s.workload?.shell !== undefined ? { shell: s.workload.shell } : undefined;
  const files: SchedulerPayload['files'] = [];
  let name: string;
  let binary: string;
  if (sched.name !== undefined) {
    name = sched.name;
    files.push(...schedulerGuestFiles(await buildSchedulers(kernel, [name]), [name]));
    binary = `${GUEST_BIN_DIR}/${name}`;
  } else {
    name = basename(sched.binary!);
    binary = `${GUEST_BIN_DIR}/${name}`;
    files.push({ host: sched.binary!, guest: binary });
  }
  const script = schedulerRunScript({
    name,
    binary,
    args: sched.args,
    ...(sched.ops !== undefined ? { ops: sched.ops } : {}),
    enableTimeoutS: sched.enable_timeout_s,
    ...(hostWatch ? { afterEnableS: HOST_ARM_PAUSE_S } : {}),
    ...(sched.exit_wait_s !== undefined ? { exitWaitS: sched.exit_wait_s } : {}),
    ...(workload ? { workload } : {}),
    ...(program?.baseline ? { baseline: program.baseline } : {}),
  });
  return { files, script };
}

/**
 * The exit kind of a run: the guest's report, unless it saw none (or one this schema does not
 * name) while the host's slot-0 watch latched a value: the kernel stored an error kind the
 * guest did not live to report.
 */
export function schedulerExitKind(reported: number | undefined, latched: number | undefined): SchedulerExitKind {
  const named = reported === undefined ? 'none' : schedulerExitKindName(reported);
  if (named !== undefined && named !== 'none') return named;
  if (latched !== undefined) return schedulerExitKindName(latched) ?? 'error'; // slot 0 latches only >= SCX_EXIT_ERROR
  return named ?? 'error';
}

/**
 * The scheduler's part of the result, from the run shell's console lines; `latchedKind` is the
 * value the exit-kind watchpoint (slot 0) latched, when it did and its value is known.
 */
export function schedulerResult(s: Scenario, consoleText: string, watchpointLatched: boolean, exitKindWatch: string, latchedKind?: number, workload?: WorkloadResult): SchedulerResult {
  const r = parseSchedulerRun(consoleText);
  const name = s.scheduler!.name ?? basename(s.scheduler!.binary!);
  return {
    name,
    state: r.enabled ? 'enabled' : 'not_enabled',
    exitKind: schedulerExitKind(r.exitKind, watchpointLatched ? latchedKind : undefined),
    ...(r.exitReason !== undefined ? { reason: r.exitReason } : {}),
    dump: r.output,
    dmesg: r.dmesg,
    ...(workload ? { progress: workload.threads.map((t) => t.rounds) } : {}),
    ...(r.workloadExit !== undefined ? { workloadExit: r.workloadExit } : {}),
    watchpointLatched,
    exitKindWatch,
  };
}

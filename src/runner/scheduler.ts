// A scenario's `scheduler:` and `workload:` as the guest runs them (loader and workload program
// packed into the initramfs, the run shell appended to /init), and the scheduler's part of the
// result, read back from the console.
import { basename } from 'node:path';
import type { Kernel } from '../fixtures/kernels/index.ts';
import {
  buildSchedulers,
  GUEST_BIN_DIR,
  type GuestStep,
  parseSchedulerRun,
  SCX_EXIT,
  schedulerGuestFiles,
  schedulerRunScript,
  type VerifierRejection,
  verifierRejection,
  type Workload,
} from '../fixtures/schedulers/index.ts';
import { UserError } from '../errors.ts';
import { stepKind, type Step } from './scenario/steps-schema.ts';
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
  /** The exit's message, e.g. "cpu 3 going offline, exiting scheduler". */
  message?: string;
  /** The loader's output: its exit report and debug dump. */
  dump: string[];
  /** When it never loaded because the BPF verifier refused a program: which, why, and the verifier's log. */
  verifier?: VerifierRejection;
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
  // libbpf resolves a BPF program's __kconfig externs (CONFIG_PREEMPT_RCU in 7.3's scx headers)
  // from /proc/config.gz or /boot/config-$(uname -r); Debian's kernels have no IKCONFIG.
  const files: SchedulerPayload['files'] = kernel.configFile ? [{ host: kernel.configFile, guest: `/boot/config-${kernel.version}` }] : [];
  let name: string;
  let binary: string;
  if (sched.name !== undefined) files.push(...schedulerGuestFiles(await buildSchedulers(kernel, [sched.name]), [sched.name]));
  for (const [i, st] of (s.steps ?? []).entries()) {
    const r = st.replace_scheduler?.name;
    if (r === undefined || r === sched.name || files.some((f) => f.guest === `${GUEST_BIN_DIR}/${r}`)) continue;
    try {
      files.push(...schedulerGuestFiles(await buildSchedulers(kernel, [r]), [r]));
    } catch (e) {
      throw new UserError(`steps[${i}].replace_scheduler.name: ${(e as Error).message}`);
    }
  }
  if (sched.name !== undefined) {
    name = sched.name;
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
    ...(s.steps?.length ? { steps: s.steps.map(guestStep) } : {}),
  });
  return { files, script };
}

/** A scenario step as the guest's run shell takes it. */
function guestStep(st: Step): GuestStep {
  const atS = st.at_s;
  if (st.hotplug) return { atS, kind: 'hotplug', cpu: st.hotplug.cpu, online: st.hotplug.online };
  if (st.replace_scheduler) {
    const { name, args } = st.replace_scheduler;
    return { atS, kind: 'replace_scheduler', name, binary: `${GUEST_BIN_DIR}/${name}`, args, ops: name.replace(/^scx_/, '') };
  }
  if (st.reload) return { atS, kind: 'reload', times: st.reload.times };
  if (st.cgroup_move) return { atS, kind: 'cgroup_move', group: st.cgroup_move.group, to: st.cgroup_move.to };
  return { atS, kind: stepKind(st) as 'detach_scheduler' | 'attach_scheduler' };
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
  const rejection = verifierRejection(r.output);
  const name = s.scheduler!.name ?? basename(s.scheduler!.binary!);
  return {
    name,
    state: r.enabled ? 'enabled' : 'not_enabled',
    exitKind: schedulerExitKind(r.exitKind, watchpointLatched ? latchedKind : undefined),
    ...(r.exitReason !== undefined ? { reason: r.exitReason } : {}),
    ...(r.exitMessage !== undefined ? { message: r.exitMessage } : {}),
    dump: r.output,
    ...(!r.enabled && rejection ? { verifier: rejection } : {}),
    dmesg: r.dmesg,
    ...(workload ? { progress: workload.threads.map((t) => t.rounds) } : {}),
    ...(r.workloadExit !== undefined ? { workloadExit: r.workloadExit } : {}),
    watchpointLatched,
    exitKindWatch,
  };
}

// One vCPU's loop, as the reference runs it: check kill, (freeze), KVM_RUN, dispatch the exit.
import { classifyExit, decodeExit, type ExitBus } from '../exits.ts';
import { EAGAIN, EINTR, eventfdSignal } from '../sys/libc.ts';
import { ActionCode, FATAL_FAIL_ENTRY, FATAL_INTERNAL_ERROR, type VmControl } from './control.ts';

/** The part of VcpuFd the loop drives (a fake stands in for it in unit tests). */
export interface RunnableVcpu {
  readonly run: DataView;
  readonly runBytes: Uint8Array;
  runOnce(): number;
  setImmediateExit(on: boolean): void;
}

export interface RunLoopContext {
  index: number;
  vcpu: RunnableVcpu;
  bus: ExitBus;
  control: VmControl;
  killEventFd: number;
  /** Called at the top of each iteration while a freeze is requested (the debug plane). */
  onFreeze?: () => void;
  /** Debug exits (hardware watchpoints) go here, with DR6. */
  onDebug?: (dr6: bigint) => void;
  /** Re-arms watchpoints before each KVM_RUN when the armed set changed. */
  beforeRun?: () => void;
}

export interface RunLoopStats {
  exits: number;
  runErrors: number;
  lastRunError?: number;
}

export function vcpuRunLoop(ctx: RunLoopContext): RunLoopStats {
  const { index, vcpu, bus, control } = ctx;
  const stats: RunLoopStats = { exits: 0, runErrors: 0 };
  const stop = (code: ActionCode, fatalKind = 0, detail = 0n) => {
    // A Fatal exit leaves a snapshot of every vCPU behind, this one included.
    if (code === ActionCode.Fatal) control.requestSnapshotOnExit();
    control.recordAction(index, code, fatalKind, detail);
    control.kill();
    eventfdSignal(ctx.killEventFd);
  };

  for (;;) {
    if (control.killed) break;
    if (control.freezeRequested && ctx.onFreeze) {
      ctx.onFreeze();
      if (control.killed) break;
    }
    ctx.beforeRun?.();

    const status = vcpu.runOnce();
    if (status !== 0) {
      if (status === EINTR || status === EAGAIN) {
        vcpu.setImmediateExit(false);
        if (control.killed) break;
        continue;
      }
      // The reference keeps going on other errors unless killed; count them for the result.
      stats.runErrors++;
      stats.lastRunError = status;
      if (control.killed) break;
      continue;
    }

    stats.exits++;
    control.countExit(index);
    const exit = decodeExit(vcpu.run, vcpu.runBytes);
    if (exit.kind === 'Hlt') {
      if (control.killed) break;
      continue;
    }
    if (exit.kind === 'Debug') {
      ctx.onDebug?.(exit.dr6);
      if (control.killed) break;
      continue;
    }
    const action = classifyExit(exit, bus);
    if (action?.kind === 'Shutdown') {
      stop(ActionCode.Shutdown);
      break;
    }
    if (action?.kind === 'Fatal') {
      stop(ActionCode.Fatal, exit.kind === 'FailEntry' ? FATAL_FAIL_ENTRY : FATAL_INTERNAL_ERROR, action.reason ?? 0n);
      break;
    }
    if (control.killed) break;
  }
  return stats;
}

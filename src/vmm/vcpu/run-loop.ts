// One vCPU's loop: check kill, (freeze), KVM_RUN, dispatch the exit. KVM_RUN failing (other
// than interrupted) and an exit nothing here knows end the VM as Fatal, as Firecracker does:
// re-entering would spin on the same failure.
import { classifyExit, decodeExit, dispatchDeviceExit, type DeviceExit, type ExitBus, type VcpuExit } from '../exits.ts';
import { EAGAIN, EINTR, eventfdSignal } from '../sys/libc.ts';
import { ActionCode, FatalKind, type VmControl } from './control.ts';

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
  /** Debug exits (hardware watchpoints) go here, with kvm_run's struct kvm_debug_exit_arch. */
  onDebug?: (exit: DataView) => void;
  /** Re-arms watchpoints before each KVM_RUN when the armed set changed. */
  beforeRun?: () => void;
}

export interface RunLoopStats {
  /** Exits per decoded kind (IoOut, MmioWrite, Hlt, Debug, ...). */
  byReason: Record<string, number>;
}

const FATAL_KINDS: Partial<Record<VcpuExit['kind'], FatalKind>> = { FailEntry: FatalKind.FailEntry, InternalError: FatalKind.InternalError };

export function vcpuRunLoop(ctx: RunLoopContext): RunLoopStats {
  const { index, vcpu, bus, control } = ctx;
  const stats: RunLoopStats = { byReason: {} };
  const stop = (code: ActionCode, fatalKind = FatalKind.None, detail = 0n) => {
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
      stop(ActionCode.Fatal, FatalKind.RunErrno, BigInt(status));
      break;
    }

    control.countExit(index);
    const exit = decodeExit(vcpu.run, vcpu.runBytes);
    stats.byReason[exit.kind] = (stats.byReason[exit.kind] ?? 0) + 1;
    if (exit.kind === 'Debug') ctx.onDebug?.(exit.arch);
    const meaning = classifyExit(exit);
    const action = meaning === 'device' ? dispatchDeviceExit(exit as DeviceExit, bus) : meaning;
    if (action.kind === 'Shutdown') {
      stop(ActionCode.Shutdown);
      break;
    }
    if (action.kind === 'Fatal') {
      stop(ActionCode.Fatal, FATAL_KINDS[exit.kind] ?? FatalKind.UnknownExit, action.reason ?? 0n);
      break;
    }
    if (control.killed) break;
  }
  return stats;
}

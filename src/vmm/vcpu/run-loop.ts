// One vCPU's loop: check kill, (freeze), KVM_RUN, dispatch the exit. KVM_RUN failing (other
// than interrupted) and an exit nothing here knows end the VM as Fatal, as Firecracker does:
// re-entering would spin on the same failure.
import type { CoalescedRing } from '../coalesced-ring.ts';
import { classifyExit, decodeExit, dispatchDeviceExit, dispatchIoOut, type DeviceExit, type ExitBus, type VcpuExit } from '../exits.ts';
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
  /** The VM's coalesced port writes, applied before any exit is served. */
  coalesced?: CoalescedRing;
}

export interface RunLoopStats {
  /** Exits per decoded kind (IoOut, MmioWrite, Hlt, Debug, ...). */
  byReason: Record<string, number>;
}

const FATAL_KINDS: Partial<Record<VcpuExit['kind'], FatalKind>> = { FailEntry: FatalKind.FailEntry, InternalError: FatalKind.InternalError };

/** What the loop does after one KVM_RUN return: enter again, or leave (the VM ended or was killed). */
export type AfterExit = 'again' | 'leave';

/**
 * Serves one KVM_RUN return of vCPU `ctx.index` (`status`: 0, or its errno): an interruption
 * clears immediate_exit, an exit is counted, decoded and dispatched, and an ending one (Shutdown,
 * Fatal, a failed KVM_RUN) records the VM's action and kills it. Shared by a vCPU's own thread
 * (vcpuRunLoop) and the exit thread that serves native vCPU threads (group.ts).
 */
export function serveExit(ctx: Pick<RunLoopContext, 'index' | 'vcpu' | 'bus' | 'control' | 'killEventFd' | 'onDebug' | 'coalesced'>, stats: RunLoopStats, status: number): AfterExit {
  const { index, vcpu, bus, control } = ctx;
  // Queued writes came before this exit (and before a kick's return: the VM's last output).
  ctx.coalesced?.drain((w) => w.pio && dispatchIoOut(bus, w.addr, w.data.length, 1, w.data));
  const stop = (code: ActionCode, fatalKind = FatalKind.None, detail = 0n): AfterExit => {
    // A Fatal exit leaves a snapshot of every vCPU behind, this one included.
    if (code === ActionCode.Fatal) control.requestSnapshotOnExit();
    control.recordAction(index, code, fatalKind, detail);
    control.kill();
    eventfdSignal(ctx.killEventFd);
    return 'leave';
  };
  if (status !== 0) {
    if (status !== EINTR && status !== EAGAIN) return stop(ActionCode.Fatal, FatalKind.RunErrno, BigInt(status));
    vcpu.setImmediateExit(false);
    return control.killed ? 'leave' : 'again';
  }
  control.countExit(index);
  const exit = decodeExit(vcpu.run, vcpu.runBytes);
  stats.byReason[exit.kind] = (stats.byReason[exit.kind] ?? 0) + 1;
  if (exit.kind === 'Debug') ctx.onDebug?.(exit.arch);
  const meaning = classifyExit(exit);
  const action = meaning === 'device' ? dispatchDeviceExit(exit as DeviceExit, bus) : meaning;
  if (action.kind === 'Shutdown') return stop(ActionCode.Shutdown);
  if (action.kind === 'Fatal') return stop(ActionCode.Fatal, FATAL_KINDS[exit.kind] ?? FatalKind.UnknownExit, action.reason ?? 0n);
  return control.killed ? 'leave' : 'again';
}

export function vcpuRunLoop(ctx: RunLoopContext): RunLoopStats {
  const { vcpu, control } = ctx;
  const stats: RunLoopStats = { byReason: {} };
  for (;;) {
    if (control.killed) break;
    if (control.freezeRequested && ctx.onFreeze) {
      ctx.onFreeze();
      if (control.killed) break;
    }
    ctx.beforeRun?.();
    if (serveExit(ctx, stats, vcpu.runOnce()) === 'leave') break;
  }
  return stats;
}

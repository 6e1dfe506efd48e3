// How a VM ended (VmResult), and the parts of it the VMM reports per vCPU and per freeze.
import type { Fault } from './devices/virtio/errors.ts';
import type { ConsolePort, WatchMechanism } from './config.ts';
import { ExitReason } from './sys/kvm-abi.ts';
import { errnoName } from './sys/libc.ts';
import { FatalKind } from './vcpu/control.ts';
import type { VcpuRegSnapshotHex } from './vcpu/snapshot.ts';
import type { WatchpointResult } from './watchpoints.ts';

import type { ExitActionName } from './exit-actions.ts';

export type { ExitActionName } from './exit-actions.ts';

/** One vCPU's registers at a freeze, and what caused it. */
export interface SnapshotRecord extends VcpuRegSnapshotHex {
  vcpu: number;
  /** `api` (vm.freeze()), `timeout`, `fatal`, or `watchpoint:<name>`. */
  trigger: string;
  /** ip=... sp=... ptroot=...; a Linux guest's kernel ip carries its symbol: ip=0x... (func+0x37) */
  text: string;
  /** `func+0x37` when the ip is in a Linux guest kernel's text (symbols from its kallsyms). */
  symbol?: string;
}

export interface VcpuResult {
  index: number;
  /** Every exit from KVM_RUN. */
  exits: number;
  /** Exits per reason (io, mmio, hlt, debug, ...): where the vCPU left the guest. */
  exitsByReason: Record<string, number>;
  /**
   * The vCPU thread's CPU time from its start to its end (10 ms ticks): `guest` in guest mode,
   * `vmm` the rest (exit handling and any device work done on this thread), which the guest lost.
   */
  cpuMs?: { guest: number; vmm: number };
}

/** The device thread, when the devices' queues were worked off the vCPU threads. */
export interface DeviceThreadResult {
  /** Notify wake-ups it served. */
  notifies: number;
  /** Its CPU time. */
  cpuMs: number;
}

export interface VmResult {
  exitAction: ExitActionName;
  /** Why a Fatal run ended: the vCPU, and the exit reason or KVM_RUN's errno. */
  fatalReason?: string;
  /** Output per port (hvc0: the virtio-console; empty without one). */
  console: Record<ConsolePort, string>;
  vcpus: VcpuResult[];
  watchpoints: Record<string, WatchpointResult>;
  watchMechanism: WatchMechanism;
  snapshots: SnapshotRecord[];
  /** virtio devices the guest drove into DEVICE_NEEDS_RESET (absent when none). */
  deviceFaults?: Array<{ device: string; fault: Fault }>;
  deviceThread?: DeviceThreadResult;
  wallMs: number;
}

/** A Fatal action's reason, from the kind and detail word the vCPU recorded. */
export function fatalReason(vcpu: number, kind: FatalKind, detail: bigint): string {
  switch (kind) {
    case FatalKind.FailEntry:
      return `vCPU ${vcpu}: KVM_EXIT_FAIL_ENTRY, hardware entry failure reason 0x${detail.toString(16)}`;
    case FatalKind.InternalError:
      return `vCPU ${vcpu}: KVM_EXIT_INTERNAL_ERROR, suberror ${detail}`;
    case FatalKind.RunErrno:
      return `vCPU ${vcpu}: KVM_RUN failed: ${errnoName(Number(detail))}`;
    case FatalKind.UnknownExit: {
      const name = Object.entries(ExitReason).find(([, r]) => BigInt(r) === detail)?.[0];
      return `vCPU ${vcpu}: exit reason ${detail}${name ? ` (KVM_EXIT_${name})` : ''}, which this VMM does not handle`;
    }
    default:
      return `vCPU ${vcpu}: a Fatal exit of unknown kind ${kind}`;
  }
}

// Messages between the VMM thread and a vCPU worker.
import type { SerialShared } from '../devices/serial.ts';
import type { CpuidEntry } from '../kvm.ts';
import type { RamRegion } from '../memory.ts';
import type { EntryState } from '../x86_64/long-mode.ts';
import type { RunLoopStats } from './run-loop.ts';

export interface VcpuWorkerInit {
  index: number;
  vmFd: number;
  mmapSize: number;
  cpuid: CpuidEntry[];
  entry: EntryState;
  ram: RamRegion[];
  control: SharedArrayBuffer;
  com1: SerialShared;
  com2: SerialShared;
  killEventFd: number;
  parkedEventFd: number;
  thawEventFd: number;
  latchEventFd: number;
  latch: SharedArrayBuffer;
  /** Bit n set: the first latch of watch slot n freezes the VM. */
  freezeMask: number;
  hasImmediateExit: boolean;
  watchMechanism: 'debugregs' | 'writetrap';
}

export type VcpuWorkerMessage =
  | { type: 'ready'; tid: number; runAddr: bigint; runSize: number }
  | { type: 'failed'; message: string }
  | { type: 'freeze-request'; slot: number }
  | { type: 'done'; stats: RunLoopStats };

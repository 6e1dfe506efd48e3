// Messages between the VMM thread and a vCPU worker.
import type { CoalescedRingInit } from '../coalesced-ring.ts';
import type { SerialShared } from '../devices/serial.ts';
import type { VirtioWiring } from '../devices/virtio/wiring.ts';
import type { CpuidEntry } from '../kvm.ts';
import type { RamRegion } from '../memory.ts';
import type { VcpuStart } from '../arch.ts';
import type { NotifyLoopStats } from '../devices/virtio/notify-loop.ts';
import type { RunLoopStats } from './run-loop.ts';
import type { ThreadCpu } from '../sys/thread-cpu.ts';

export interface VcpuWorkerInit {
  index: number;
  /** KVM's vCPU id, which is also its APIC id. */
  apicId: number;
  vmFd: number;
  mmapSize: number;
  cpuid: CpuidEntry[];
  start: VcpuStart;
  /** Boot MSRs and LAPIC LINT pins, as firmware leaves them for Linux. */
  linuxCpuState: boolean;
  /** eventfds raising COM1/COM2's interrupt (irqfd), when the VM has an irqchip. */
  serialIrqFds?: { com1: number; com2: number };
  ram: RamRegion[];
  control: SharedArrayBuffer;
  com1: SerialShared;
  com2: SerialShared;
  /** The UARTs the guest sees (the others' ports read as nothing there). */
  serialPorts: Array<'com1' | 'com2'>;
  /** The VM's coalesced ring (the UARTs' transmit writes), when KVM has one. */
  coalesced?: CoalescedRingInit;
  /** virtio-mmio devices this thread attaches to its exit bus. */
  virtio?: VirtioWiring;
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

/** A vCPU's messages, each naming its vCPU (one port carries a whole group of native vCPUs). */
export type VcpuWorkerMessage =
  | { type: 'ready'; index: number; tid: number; runAddr: bigint; runSize: number }
  | { type: 'failed'; index: number; message: string }
  | { type: 'freeze-request'; index: number; slot: number }
  | { type: 'done'; index: number; stats: VcpuThreadStats | undefined };

/** A vCPU thread's account of its run: exits by reason, and its CPU time from start to end. */
export interface VcpuThreadStats extends RunLoopStats {
  cpu: ThreadCpu;
}

/** The device thread's work: the VM's devices, its RAM, and the kill eventfd that ends it. */
export interface DeviceThreadInit {
  virtio: VirtioWiring;
  ram: RamRegion[];
  stopFd: number;
}

export interface DeviceThreadStats extends NotifyLoopStats {
  /** The device thread's CPU time while it served the VM. */
  cpuMs: number;
}

export type DeviceThreadMessage = { type: 'done'; stats?: DeviceThreadStats; error?: string };

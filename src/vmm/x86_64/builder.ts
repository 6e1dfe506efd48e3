// Builds an x86_64 machine from a VmConfig, Firecracker's builder half: KVM and the VM fd, guest
// RAM and its memslots, the long-mode tables and the loaded payload, the eventfds, the irqchip
// with its irqfds and the virtio devices; and the x86 half of each vCPU's worker init.
import { serialPortsOf, type SerialPort, type VmConfig } from '../config.ts';
import { planVirtioWindows, VirtioHost } from '../devices/virtio/wiring.ts';
import { VmmConfigError } from '../errors.ts';
import { EventFds } from '../event-fds.ts';
import { Kvm, type VmFd } from '../kvm.ts';
import { GuestMemory } from '../memory.ts';
import { MemslotTable, pagesOf, planMemslots } from '../memslots.ts';
import { coalescedRingLock, type CoalescedRingInit } from '../coalesced-ring.ts';
import { COM1_BASE, COM2_BASE } from '../devices/serial.ts';
import {
  KVM_CAP_COALESCED_MMIO,
  KVM_CAP_COALESCED_PIO,
  KVM_CAP_IMMEDIATE_EXIT,
  KVM_CAP_IOEVENTFD,
  KVM_CAP_MAX_VCPU_ID,
  KVM_CAP_MAX_VCPUS,
  KVM_CAP_READONLY_MEM,
  KVM_CAP_TSC_DEADLINE_TIMER,
} from '../sys/kvm-abi.ts';
import { cpuPlacement, formatTopology, highestApicId, vcpuCount, type Topology } from '../topology.ts';
import type { VcpuWorkerInit } from '../vcpu/protocol.ts';
import { cpuidForVcpu } from './cpuid.ts';
import { BARE_LOAD_ADDR, bareStackTop } from './layout.ts';
import { writeLongModeTables } from './long-mode.ts';
import { COM1_GSI, COM2_GSI, createChipset, loadPayload, ramFor, type MachinePlan } from './machine.ts';

/**
 * Where KVM puts the three pages of real-mode TSS that VMX needs (KVM_SET_TSS_ADDR): the top of
 * the 32-bit space below the BIOS, as QEMU places it, clear of RAM and every device window.
 */
export const TSS_ADDR = 0xfffb_d000;

/** A Linux guest below this cannot unpack a kernel; the scenario schema asks for more. */
export const MIN_LINUX_MEMORY_MB = 64;
/** Bare-metal guests use the first 3 GiB, identity-mapped; above it needs Linux's layout. */
const MAX_BARE_MEMORY_MB = 3072;

/** The architecture's half of a vCPU worker's init. */
export type ArchVcpuInit = Pick<VcpuWorkerInit, 'apicId' | 'cpuid' | 'start' | 'linuxCpuState' | 'serialIrqFds' | 'mmapSize' | 'hasImmediateExit' | 'coalesced'>;

export interface Machine {
  kvm: Kvm;
  vm: VmFd;
  memory: GuestMemory;
  memslots: MemslotTable;
  fds: EventFds;
  virtio?: VirtioHost;
  vcpuInit(index: number): ArchVcpuInit;
  /** Stops the devices and closes every fd (guest RAM stays: the caller releases it). */
  close(): void;
}

/**
 * Queues guest writes to the UARTs' transmit registers in KVM's coalesced ring: a byte printed
 * costs no exit of its own, only the LSR poll before the next one does (the 8250 console's
 * byte-by-byte writes were half of a Linux boot's exits). Only THR: every other UART register
 * still exits, and serveExit applies the queued bytes before it serves any exit.
 */
function coalesceUartWrites(kvm: Kvm, vm: VmFd, mmapSize: number, ports: readonly SerialPort[]): CoalescedRingInit | undefined {
  const pageOffset = kvm.checkExtension(KVM_CAP_COALESCED_MMIO);
  if (pageOffset <= 0 || (pageOffset + 1) * 4096 > mmapSize || kvm.checkExtension(KVM_CAP_COALESCED_PIO) <= 0 || ports.length === 0) return undefined;
  for (const port of ports) vm.coalescePio(port === 'com1' ? COM1_BASE : COM2_BASE, 1);
  return { pageOffset, lock: coalescedRingLock() };
}

/** x86 limits of a config: RAM the layout can hold, an image clear of the stacks, devices a bare guest can find. */
function checkConfig(c: VmConfig, t: Topology): void {
  const vcpus = vcpuCount(t);
  if (c.guest.kind === 'linux') {
    if (!Number.isInteger(c.memoryMb) || c.memoryMb < MIN_LINUX_MEMORY_MB) throw new VmmConfigError(`memory_mb must be an integer >= ${MIN_LINUX_MEMORY_MB} for a Linux guest, got ${c.memoryMb}`);
    return;
  }
  const minMb = Math.ceil((bareStackTop(vcpus) + 1) / (1 << 20));
  if (!Number.isInteger(c.memoryMb) || c.memoryMb < minMb) throw new VmmConfigError(`memory_mb must be an integer >= ${minMb} for ${vcpus} vCPUs, got ${c.memoryMb}`);
  if (c.memoryMb > MAX_BARE_MEMORY_MB) throw new VmmConfigError(`memory_mb above ${MAX_BARE_MEMORY_MB} needs the Linux memory layout (not available to bare guests)`);
  if (BARE_LOAD_ADDR + c.guest.image.length > bareStackTop(-1)) throw new VmmConfigError(`guest image of ${c.guest.image.length} bytes overlaps the vCPU stacks`);
  const virtio = planVirtioWindows(c.devices ?? {});
  if (virtio.length > 0) throw new VmmConfigError(`virtio devices (${virtio.map((w) => w.kind).join(', ')}) need a Linux guest: bare-metal guests have no ACPI to find them`);
}

export function buildMachine(config: VmConfig, topology: Topology): Machine {
  checkConfig(config, topology);
  const kvm = Kvm.open();
  let vm: VmFd | undefined;
  let memory: GuestMemory | undefined;
  let fds: EventFds | undefined;
  let virtio: VirtioHost | undefined;
  try {
    if (config.watchMechanism === 'writetrap') kvm.requireExtension(KVM_CAP_READONLY_MEM, 'read-only memslots (KVM_CAP_READONLY_MEM)', 'the writetrap watch mechanism');
    const maxVcpus = kvm.checkExtension(KVM_CAP_MAX_VCPUS);
    const vcpus = vcpuCount(topology);
    if (vcpus > maxVcpus) throw new VmmConfigError(`vcpus: ${vcpus} is more than this KVM allows (${maxVcpus})`);
    // KVM names a vCPU by its APIC id, which must stay below KVM_CAP_MAX_VCPU_ID (0: KVM_CAP_MAX_VCPUS).
    const idLimit = kvm.checkExtension(KVM_CAP_MAX_VCPU_ID) || maxVcpus;
    const topId = highestApicId(topology);
    if (topId >= idLimit)
      throw new VmmConfigError(
        `topology ${formatTopology(topology)}: highest APIC id ${topId}; this KVM takes vCPU ids below ${idLimit}: use a topology that pads less (fewer nodes, LLCs or cores per level, or power-of-two counts)`,
      );
    vm = kvm.createVm();
    vm.setTssAddr(TSS_ADDR);
    const ram = ramFor(config.guest, config.memoryMb, topology);
    memory = GuestMemory.allocate(ram);
    const memslots = new MemslotTable(vm);
    const traps = config.watchMechanism === 'writetrap' ? (config.watchpoints ?? []).flatMap((w) => pagesOf(w.address, w.len)) : [];
    memslots.replace(planMemslots(memory.regions, traps));
    writeLongModeTables(memory);
    const windows = planVirtioWindows(config.devices ?? {});
    const plan: MachinePlan = loadPayload(config.guest, memory, ram, topology, windows);
    fds = new EventFds();
    let serialIrqFds: { com1: number; com2: number } | undefined;
    if (plan.irqchip) {
      createChipset(vm);
      serialIrqFds = { com1: fds.create(), com2: fds.create() };
      vm.irqfd(serialIrqFds.com1, COM1_GSI);
      vm.irqfd(serialIrqFds.com2, COM2_GSI);
      if (windows.length > 0) {
        const offVcpu = config.devices!.queueWork !== 'vcpu' && kvm.checkExtension(KVM_CAP_IOEVENTFD) > 0;
        virtio = VirtioHost.create(config.devices!, windows, vm, memory, offVcpu);
      }
    }
    const supported = kvm.supportedCpuid();
    const mmapSize = kvm.vcpuMmapSize();
    const coalesced = coalesceUartWrites(kvm, vm, mmapSize, serialPortsOf(config));
    const shared = {
      mmapSize,
      ...(coalesced ? { coalesced } : {}),
      hasImmediateExit: kvm.checkExtension(KVM_CAP_IMMEDIATE_EXIT) > 0,
      linuxCpuState: plan.linuxCpuState,
      ...(serialIrqFds ? { serialIrqFds } : {}),
    };
    const tscDeadline = kvm.checkExtension(KVM_CAP_TSC_DEADLINE_TIMER) > 0;
    const [vmFd, eventFds, devices] = [vm, fds, virtio];
    return {
      kvm,
      vm: vmFd,
      memory,
      memslots,
      fds: eventFds,
      ...(devices ? { virtio: devices } : {}),
      vcpuInit: (index) => ({
        ...shared,
        apicId: cpuPlacement(topology, index).apicId,
        cpuid: cpuidForVcpu(supported, topology, index, { tscDeadline }),
        start: plan.starts[index]!,
      }),
      close: () => {
        devices?.stop();
        eventFds.close();
        vmFd.close();
        kvm.close();
      },
    };
  } catch (e) {
    virtio?.stop();
    fds?.close();
    memory?.release();
    vm?.close();
    kvm.close();
    throw e;
  }
}

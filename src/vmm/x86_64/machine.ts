// What a guest kind needs from the VM before its vCPUs run: RAM layout, chipset, firmware
// tables, the payload in memory, and each vCPU's entry state.
import { VmmConfigError } from '../errors.ts';
import type { VmFd } from '../kvm.ts';
import { KVM_PIT_SPEAKER_DUMMY } from '../sys/kvm-abi.ts';
import type { GuestMemory } from '../memory.ts';
import { vcpuCount, type Topology } from '../topology.ts';
import { buildAcpiTables } from './acpi/index.ts';
import type { VirtioWindow } from '../devices/virtio/wiring.ts';
import { readBzImageHeader } from './bzimage.ts';
import { BARE_LOAD_ADDR, bareStackTop } from './layout.ts';
import { ACPI_BASE, linuxRamLayout, loadLinux, type RamRange } from './linux-boot.ts';
import type { EntryState } from './long-mode.ts';

export interface BareGuest {
  kind: 'bare';
  /** Flat binary, loaded at BARE_LOAD_ADDR and entered in 64-bit mode. */
  image: Uint8Array;
  /** Passed in rdx. */
  arg?: number;
}

export interface LinuxGuest {
  kind: 'linux';
  /** The bzImage (vmlinuz) bytes; with `elf`, its setup sectors suffice (readBzImageSetup). */
  bzImage: Uint8Array;
  /** Path of the kernel ELF unpacked from bzImage: booted in its place, skipping the guest-side decompressor. */
  elf?: string;
  initrd?: Uint8Array;
  cmdline: string;
}

export type GuestPayload = BareGuest | LinuxGuest;

/** Per-vCPU start: `long-mode` (entry state given) or `reset` (an AP waiting for INIT/SIPI). */
export type VcpuStart = { mode: 'long-mode'; entry: EntryState } | { mode: 'reset' };

export interface MachinePlan {
  ram: RamRange[];
  /** In-kernel PIC/IOAPIC/LAPIC + PIT, serial interrupts through irqfds. */
  irqchip: boolean;
  /** Also set the boot MSRs (MTRRs on, fast strings) and the LAPIC LINT pins. */
  linuxCpuState: boolean;
  starts: VcpuStart[];
}

export const COM1_GSI = 4;
export const COM2_GSI = 3;
/** Stack for the BSP until the kernel sets up its own. */
const LINUX_BOOT_STACK = 0x8ff0;

export function ramFor(guest: GuestPayload, memoryMb: number, topology: Topology): RamRange[] {
  return guest.kind === 'bare' ? [{ gpa: 0, size: memoryMb << 20, node: 0 }] : linuxRamLayout(memoryMb, topology.numa_nodes);
}

/** Puts the payload (and, for Linux, the ACPI tables) in RAM; says how each vCPU starts. */
export function loadPayload(guest: GuestPayload, mem: GuestMemory, ram: RamRange[], topology: Topology, virtioMmio: readonly VirtioWindow[] = []): MachinePlan {
  const vcpus = vcpuCount(topology);
  if (guest.kind === 'bare') {
    // Each vCPU gets its own stack above the image; hundreds of vCPUs need more than the default RAM.
    const needed = bareStackTop(vcpus - 1);
    const have = ram.reduce((n, r) => n + r.size, 0);
    if (needed > have)
      throw new VmmConfigError(
        `memory: ${vcpus} vCPUs' stacks end at ${Math.ceil(needed / 2 ** 20)} MiB of guest RAM, but it has ${have / 2 ** 20} MiB; give memory_mb of at least ${Math.ceil(needed / 2 ** 20)}`,
      );
    mem.write(BARE_LOAD_ADDR, guest.image);
    return {
      ram,
      irqchip: false,
      linuxCpuState: false,
      starts: Array.from({ length: vcpus }, (_, i) => ({
        mode: 'long-mode' as const,
        entry: { rip: BARE_LOAD_ADDR, rsp: bareStackTop(i), rdi: i, rsi: vcpus, rdx: guest.arg ?? 0 },
      })),
    };
  }
  const header = readBzImageHeader(guest.bzImage);
  const acpi = buildAcpiTables(
    {
      topology,
      memoryLayout: ram.map(({ node, gpa, size }) => ({ node, gpa, size })),
      virtioMmio: virtioMmio.map(({ base, size, gsi }) => ({ gpa: base, size, irq: gsi, trigger: 'edge' as const })),
    },
    ACPI_BASE,
  );
  mem.write(acpi.baseGpa, acpi.bytes);
  const plan = loadLinux(mem, {
    image: guest.bzImage,
    header,
    ...(guest.elf ? { elf: guest.elf } : {}),
    cmdline: guest.cmdline,
    ...(guest.initrd ? { initrd: guest.initrd } : {}),
    ram,
    rsdpAddr: acpi.rsdpGpa,
  });
  return {
    ram,
    irqchip: true,
    linuxCpuState: true,
    starts: Array.from({ length: vcpus }, (_, i): VcpuStart => (i === 0 ? { mode: 'long-mode', entry: { rip: plan.entry, rsp: LINUX_BOOT_STACK, rsi: plan.bootParams } } : { mode: 'reset' })),
  };
}

/** Chipset for Linux: interrupt controllers and timer in the kernel. Before vCPUs exist. */
export function createChipset(vm: VmFd): void {
  vm.createIrqchip();
  vm.createPit2(KVM_PIT_SPEAKER_DUMMY); // port 0x61 too: the kernel's TSC calibration polls it
}

// MSRs a Linux boot expects set (as firmware would): fast strings, MTRRs on with write-back.
export const LINUX_BOOT_MSRS: Array<{ index: number; data: bigint }> = [
  { index: 0x174, data: 0n }, // IA32_SYSENTER_CS
  { index: 0x175, data: 0n }, // IA32_SYSENTER_ESP
  { index: 0x176, data: 0n }, // IA32_SYSENTER_EIP
  { index: 0xc000_0081, data: 0n }, // STAR
  { index: 0xc000_0082, data: 0n }, // LSTAR
  { index: 0xc000_0083, data: 0n }, // CSTAR
  { index: 0xc000_0084, data: 0n }, // SYSCALL_MASK
  { index: 0xc000_0102, data: 0n }, // KERNEL_GS_BASE
  { index: 0x10, data: 0n }, // IA32_TSC
  { index: 0x1a0, data: 1n }, // IA32_MISC_ENABLE: fast strings
  { index: 0x2ff, data: (1n << 11n) | 6n }, // MTRRdefType: enabled, default write-back
];

const APIC_LVT0 = 0x350;
const APIC_LVT1 = 0x360;
const APIC_MODE_EXTINT = 7;
const APIC_MODE_NMI = 4;

/** LINT0 as ExtINT (the 8259 behind it), LINT1 as NMI: what the MP spec's virtual wire mode wants. */
export function setLintPins(lapic: Uint8Array): Uint8Array {
  const dv = new DataView(lapic.buffer, lapic.byteOffset, lapic.byteLength);
  const mode = (reg: number, m: number) => dv.setUint32(reg, (dv.getUint32(reg, true) & ~0x700) | (m << 8), true);
  mode(APIC_LVT0, APIC_MODE_EXTINT);
  mode(APIC_LVT1, APIC_MODE_NMI);
  return lapic;
}

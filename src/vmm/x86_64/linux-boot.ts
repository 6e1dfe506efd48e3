// Direct boot of a Linux bzImage through its 64-bit entry (Documentation/arch/x86/boot.rst):
// the protected-mode kernel in RAM, a zero page (boot_params) with the e820 map, the command
// line and the initrd, and the vCPU entered at startup_64 with rsi = &boot_params. Given the
// kernel ELF unpacked from that bzImage, the ELF is loaded instead and entered at its own
// startup_64: the same protocol, without the decompressor (and so without KASLR).
import type { GuestMemory } from '../memory.ts';
import type { BzImageHeader } from './bzimage.ts';
import { loadKernelElf } from './kernel-elf.ts';
import { VmmConfigError } from '../errors.ts';
import { guestPhysToU64, type GuestPhysAddr } from '../guest-address.ts';

export const ZERO_PAGE = 0x7000;
export const CMDLINE_ADDR = 0x20000;
export const CMDLINE_MAX = 0x10000;
export const EBDA_START = 0x9fc00;
/** ACPI tables live in the BIOS area, which the e820 map reserves. */
export const ACPI_BASE = 0xe0000;
export const ACPI_END = 0x100000;
export const HIMEM_START = 0x100000;
export const KERNEL_LOAD = 0x100_0000;
/** startup_64 is 0x200 past the start of the protected-mode kernel. */
export const STARTUP_64_OFFSET = 0x200;
/** Guest-physical hole for device MMIO (virtio windows, IOAPIC, LAPIC): 3 GiB .. 4 GiB. */
export const MMIO_GAP_START = 0xc000_0000;
export const MMIO_GAP_END = 0x1_0000_0000;

export const E820_RAM = 1;
export const E820_RESERVED = 2;

export interface RamRange {
  gpa: GuestPhysAddr;
  size: number;
  node: number;
}

/**
 * Guest RAM as contiguous ranges around the MMIO gap, split evenly (MiB-aligned) between
 * NUMA nodes in address order, node 0 first.
 */
export function linuxRamLayout(memoryMb: number, numaNodes = 1): RamRange[] {
  const mib = 1 << 20;
  const perNode = Math.floor(memoryMb / numaNodes);
  if (perNode < 1) throw new VmmConfigError(`memory_mb ${memoryMb} cannot be split into ${numaNodes} NUMA nodes`);
  const sizes = Array.from({ length: numaNodes }, (_, n) => (n === numaNodes - 1 ? memoryMb - perNode * (numaNodes - 1) : perNode) * mib);
  const out: RamRange[] = [];
  let at = 0;
  sizes.forEach((bytes, node) => {
    let left = bytes;
    while (left > 0) {
      if (at === MMIO_GAP_START) at = MMIO_GAP_END;
      const limit = at < MMIO_GAP_START ? MMIO_GAP_START - at : Number.MAX_SAFE_INTEGER;
      const size = Math.min(left, limit);
      out.push({ gpa: at, size, node });
      at += size;
      left -= size;
    }
  });
  return out;
}

export interface E820Entry {
  addr: GuestPhysAddr;
  size: number;
  type: number;
}

/** The BIOS-style map: low RAM, the reserved EBDA/BIOS hole (ACPI tables), then the RAM ranges. */
export function e820Map(ram: readonly RamRange[]): E820Entry[] {
  const out: E820Entry[] = [
    { addr: 0, size: EBDA_START, type: E820_RAM },
    { addr: EBDA_START, size: HIMEM_START - EBDA_START, type: E820_RESERVED },
  ];
  for (const r of ram) {
    const start = Math.max(r.gpa, HIMEM_START);
    const end = r.gpa + r.size;
    if (end <= start) continue;
    const last = out.at(-1)!;
    if (last.type === E820_RAM && last.addr + last.size === start) last.size += end - start;
    else out.push({ addr: start, size: end - start, type: E820_RAM });
  }
  return out;
}

// boot_params offsets (arch/x86/include/uapi/asm/bootparam.h).
const BP_ACPI_RSDP_ADDR = 0x070;
const BP_EXT_RAMDISK_IMAGE = 0x0c0;
const BP_EXT_RAMDISK_SIZE = 0x0c4;
const BP_EXT_CMD_LINE_PTR = 0x0c8;
const BP_E820_ENTRIES = 0x1e8;
const BP_HDR = 0x1f1;
const BP_VID_MODE = 0x1fa;
const BP_TYPE_OF_LOADER = 0x210;
const BP_LOADFLAGS = 0x211;
const BP_RAMDISK_IMAGE = 0x218;
const BP_RAMDISK_SIZE = 0x21c;
const BP_HEAP_END_PTR = 0x224;
const BP_CMD_LINE_PTR = 0x228;
const BP_E820_TABLE = 0x2d0;
const E820_MAX = 128;
const CAN_USE_HEAP = 0x80;

export interface LinuxBootInput {
  image: Uint8Array;
  header: BzImageHeader;
  /** The kernel ELF unpacked from `image`, loaded in place of its compressed kernel (`image` may then hold only the setup sectors). */
  elf?: string;
  cmdline: string;
  initrd?: Uint8Array;
  ram: readonly RamRange[];
  rsdpAddr?: GuestPhysAddr;
}

export interface LinuxBootPlan {
  entry: GuestPhysAddr;
  bootParams: GuestPhysAddr;
  initrd?: { gpa: GuestPhysAddr; size: number };
}

/** Loads kernel, initrd, command line and boot_params into guest RAM; returns where to enter. */
export function loadLinux(mem: GuestMemory, input: LinuxBootInput): LinuxBootPlan {
  const { image, header } = input;
  const kernel = image.subarray(header.setupBytes);
  const ramEnd = input.ram.filter((r) => r.gpa < MMIO_GAP_START).reduce((m, r) => Math.max(m, r.gpa + r.size), 0);
  if (KERNEL_LOAD + Math.max(kernel.length, header.initSize) > ramEnd) {
    throw new VmmConfigError(`memory_mb too small: the kernel needs ${Math.ceil((KERNEL_LOAD + header.initSize) / (1 << 20))} MiB below 3 GiB to boot`);
  }
  let entry = KERNEL_LOAD + STARTUP_64_OFFSET;
  // Where the unpacked kernel ends (its bss and brk included): the initrd goes above.
  let kernelEnd = KERNEL_LOAD + header.initSize;
  if (input.elf) {
    const elf = loadKernelElf(mem, input.elf, HIMEM_START); // below: the zero page, command line and BIOS area
    entry = elf.entry;
    kernelEnd = Math.max(kernelEnd, elf.end);
  } else mem.write(KERNEL_LOAD, kernel);

  const cmd = new TextEncoder().encode(input.cmdline);
  if (cmd.length > Math.min(header.cmdlineSize, CMDLINE_MAX - 1)) {
    throw new VmmConfigError(`kernel command line is ${cmd.length} bytes; this kernel takes at most ${header.cmdlineSize}`);
  }
  mem.write(CMDLINE_ADDR, cmd);
  mem.writeU8(CMDLINE_ADDR + cmd.length, 0);

  // The zero page: the image's own setup header, then what the loader fills in.
  mem.write(ZERO_PAGE, new Uint8Array(0x1000));
  const hdrEnd = 0x202 + image[0x201]!;
  mem.write(ZERO_PAGE + BP_HDR, image.subarray(BP_HDR, hdrEnd));
  mem.writeU16(ZERO_PAGE + BP_VID_MODE, 0xffff);
  mem.writeU8(ZERO_PAGE + BP_TYPE_OF_LOADER, 0xff);
  mem.writeU8(ZERO_PAGE + BP_LOADFLAGS, header.loadflags | CAN_USE_HEAP);
  mem.writeU16(ZERO_PAGE + BP_HEAP_END_PTR, 0xfe00);
  mem.writeU32(ZERO_PAGE + BP_CMD_LINE_PTR, CMDLINE_ADDR);
  mem.writeU32(ZERO_PAGE + BP_EXT_CMD_LINE_PTR, 0);
  if (input.rsdpAddr !== undefined) mem.writeU64(ZERO_PAGE + BP_ACPI_RSDP_ADDR, guestPhysToU64(input.rsdpAddr));

  let initrd: LinuxBootPlan['initrd'];
  if (input.initrd && input.initrd.length > 0) {
    // As high as allowed, page-aligned: clear of the kernel as it unpacks.
    const top = Math.min(ramEnd, header.initrdAddrMax + 1);
    const gpa = Math.floor((top - input.initrd.length) / 0x1000) * 0x1000;
    if (gpa < kernelEnd) {
      throw new VmmConfigError(`memory_mb too small for a ${Math.ceil(input.initrd.length / (1 << 20))} MiB initramfs above the kernel`);
    }
    mem.write(gpa, input.initrd);
    mem.writeU32(ZERO_PAGE + BP_RAMDISK_IMAGE, gpa);
    mem.writeU32(ZERO_PAGE + BP_RAMDISK_SIZE, input.initrd.length);
    mem.writeU32(ZERO_PAGE + BP_EXT_RAMDISK_IMAGE, 0);
    mem.writeU32(ZERO_PAGE + BP_EXT_RAMDISK_SIZE, 0);
    initrd = { gpa, size: input.initrd.length };
  }

  const e820 = e820Map(input.ram);
  if (e820.length > E820_MAX) throw new VmmConfigError(`${e820.length} e820 entries (at most ${E820_MAX})`);
  mem.writeU8(ZERO_PAGE + BP_E820_ENTRIES, e820.length);
  e820.forEach((e, i) => {
    const at = ZERO_PAGE + BP_E820_TABLE + i * 20;
    mem.writeU64(at, guestPhysToU64(e.addr));
    mem.writeU64(at + 8, BigInt(e.size));
    mem.writeU32(at + 16, e.type);
  });

  return { entry, bootParams: ZERO_PAGE, ...(initrd ? { initrd } : {}) };
}

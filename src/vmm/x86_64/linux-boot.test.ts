import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GuestMemory } from '../memory.ts';
import type { BzImageHeader } from './bzimage.ts';
import { kernelElf } from './kernel-elf.testing.ts';
import { e820Map, E820_RAM, E820_RESERVED, KERNEL_LOAD, linuxRamLayout, loadLinux, MMIO_GAP_END, MMIO_GAP_START } from './linux-boot.ts';

const MiB = 1 << 20;

describe('linuxRamLayout', () => {
  it('is one range for a small single-node VM', () => {
    expect(linuxRamLayout(512)).toEqual([{ gpa: 0, size: 512 * MiB, node: 0 }]);
  });
  it('splits RAM evenly between nodes in address order', () => {
    expect(linuxRamLayout(1024, 2)).toEqual([
      { gpa: 0, size: 512 * MiB, node: 0 },
      { gpa: 512 * MiB, size: 512 * MiB, node: 1 },
    ]);
  });
  it('skips the 3-4 GiB MMIO gap, splitting the node that straddles it', () => {
    expect(linuxRamLayout(4096, 2)).toEqual([
      { gpa: 0, size: 2048 * MiB, node: 0 },
      { gpa: 2048 * MiB, size: 1024 * MiB, node: 1 },
      { gpa: MMIO_GAP_END, size: 1024 * MiB, node: 1 },
    ]);
    expect(linuxRamLayout(4096).every((r) => r.gpa + r.size <= MMIO_GAP_START || r.gpa >= MMIO_GAP_END)).toBe(true);
  });
  it('gives the last node the remainder', () => {
    expect(linuxRamLayout(1000, 3).map((r) => r.size / MiB)).toEqual([333, 333, 334]);
  });
});

describe('e820Map', () => {
  it('reserves the EBDA/BIOS area and merges contiguous RAM', () => {
    expect(e820Map(linuxRamLayout(1024, 2))).toEqual([
      { addr: 0, size: 0x9fc00, type: E820_RAM },
      { addr: 0x9fc00, size: 0x100000 - 0x9fc00, type: E820_RESERVED },
      { addr: 0x100000, size: 1024 * MiB - 0x100000, type: E820_RAM },
    ]);
  });
  it('keeps the RAM above 4 GiB separate', () => {
    const map = e820Map(linuxRamLayout(4096));
    expect(map.at(-1)).toEqual({ addr: MMIO_GAP_END, size: 1024 * MiB, type: E820_RAM });
    expect(map.at(-2)).toEqual({ addr: 0x100000, size: 3072 * MiB - 0x100000, type: E820_RAM });
  });
});

describe('loadLinux with the kernel ELF', () => {
  const dir = mkdtempSync(join(tmpdir(), 'schedvm-linux-boot-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const text = Buffer.alloc(64 * 1024, 0x54);
  const elfPath = join(dir, 'kernel.elf');
  // The unpacked kernel ends 12 MiB above its load address; the header's init_size says 2 MiB.
  writeFileSync(
    elfPath,
    kernelElf(KERNEL_LOAD + 0x100, [
      [KERNEL_LOAD, text, text.length],
      [KERNEL_LOAD + 4 * MiB, Buffer.alloc(16, 0x44), 8 * MiB],
    ]),
  );
  const image = Buffer.alloc(3 * 512 + 4096, 0x5a); // setup sectors, then "compressed" kernel bytes
  image[0x201] = 0x66; // jump offset: the setup header runs to 0x268
  const header: BzImageHeader = {
    setupSects: 2,
    setupBytes: 3 * 512,
    version: 0x20f,
    loadflags: 1,
    xloadflags: 1,
    kernelAlignment: 2 * MiB,
    relocatableKernel: true,
    minAlignment: 21,
    prefAddress: BigInt(KERNEL_LOAD),
    initSize: 2 * MiB,
    cmdlineSize: 2047,
    initrdAddrMax: 0x7fffffff,
  };
  const boot = (initrdAddrMax: number) => {
    const mem = GuestMemory.allocate([{ gpa: 0, size: 64 * MiB }]);
    try {
      const plan = loadLinux(mem, { image, header: { ...header, initrdAddrMax }, elf: elfPath, cmdline: 'console=ttyS0', initrd: Buffer.alloc(MiB, 7), ram: [{ gpa: 0, size: 64 * MiB, node: 0 }] });
      return { plan, kernelStart: mem.read(KERNEL_LOAD, 4) };
    } finally {
      mem.release();
    }
  };

  it("loads the ELF, not the bzImage's compressed kernel, and enters at its e_entry", () => {
    const { plan, kernelStart } = boot(0x7fffffff);
    expect(plan.entry).toBe(KERNEL_LOAD + 0x100);
    expect([...kernelStart]).toEqual([0x54, 0x54, 0x54, 0x54]);
    expect(plan.initrd).toEqual({ gpa: 63 * MiB, size: MiB });
  });

  it("keeps the initrd above the ELF's end (bss included), not only above init_size", () => {
    const kernelEnd = KERNEL_LOAD + 12 * MiB;
    expect(boot(kernelEnd + MiB - 1).plan.initrd).toEqual({ gpa: kernelEnd, size: MiB });
    expect(() => boot(kernelEnd + MiB - 0x1001)).toThrow(/memory_mb too small for a 1 MiB initramfs above the kernel/);
  });
});

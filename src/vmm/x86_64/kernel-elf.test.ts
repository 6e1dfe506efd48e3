import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GuestMemory } from '../memory.ts';
import { kernelElfHasPvhEntry, loadKernelElf, parseKernelElf } from './kernel-elf.ts';
import { kernelElf } from './kernel-elf.testing.ts';

const MiB = 1 << 20;

const dir = mkdtempSync(join(tmpdir(), 'schedvm-kernel-elf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, data: Buffer) => {
  const path = join(dir, name);
  writeFileSync(path, data);
  return path;
};

describe('loadKernelElf', () => {
  it('puts each PT_LOAD at its physical address and enters at e_entry', () => {
    const text = Buffer.from('T'.repeat(5000));
    const data = Buffer.from('D'.repeat(3000));
    const mem = GuestMemory.allocate([{ gpa: 0, size: 8 * MiB }]);
    try {
      const elf = loadKernelElf(
        mem,
        file(
          'k.elf',
          kernelElf(2 * MiB + 0x80, [
            [2 * MiB, text, text.length],
            [4 * MiB, data, 6000],
          ]),
        ),
      );
      expect(elf.entry).toBe(2 * MiB + 0x80);
      expect({ start: elf.start, end: elf.end }).toEqual({ start: 2 * MiB, end: 4 * MiB + 6000 });
      expect(Buffer.from(mem.read(2 * MiB, 5000)).equals(text)).toBe(true);
      expect(Buffer.from(mem.read(4 * MiB, 3000)).equals(data)).toBe(true);
      expect(mem.read(4 * MiB + 3000, 3000).every((b) => b === 0)).toBe(true); // bss: RAM as it was
      expect(mem.readU8(2 * MiB - 1)).toBe(0);
    } finally {
      mem.release();
    }
  });

  it('reads a segment across adjacent RAM regions', () => {
    const text = Buffer.alloc(2 * MiB, 0x5a);
    const mem = GuestMemory.allocate([
      { gpa: 0, size: 3 * MiB },
      { gpa: 3 * MiB, size: 3 * MiB },
    ]);
    try {
      loadKernelElf(mem, file('across.elf', kernelElf(2 * MiB, [[2 * MiB, text, text.length]])));
      expect(mem.read(2 * MiB, 2 * MiB).every((b) => b === 0x5a)).toBe(true);
    } finally {
      mem.release();
    }
  });

  it('names the file and the fix when a segment is not in RAM', () => {
    const mem = GuestMemory.allocate([{ gpa: 0, size: 4 * MiB }]);
    try {
      const path = file('big.elf', kernelElf(2 * MiB, [[2 * MiB, Buffer.alloc(16), 3 * MiB]]));
      expect(() => loadKernelElf(mem, path)).toThrow(new RegExp(`${path}: its segment at 0x200000 \\(3145728 bytes\\) is not in guest RAM: give memory_mb of at least 69`));
    } finally {
      mem.release();
    }
  });
});

describe('parseKernelElf', () => {
  const parse = (elf: Buffer) => parseKernelElf((o, n) => elf.subarray(o, o + n), elf.length, 'vmlinux');
  it('refuses what is not an x86-64 kernel, naming the source', () => {
    expect(() => parse(Buffer.alloc(32))).toThrow(/vmlinux is not a loadable x86-64 kernel ELF: 32 bytes/);
    const elf = kernelElf(MiB, [[MiB, Buffer.alloc(8), 8]]);
    elf.writeUInt16LE(183, 0x12); // EM_AARCH64
    expect(() => parse(elf)).toThrow(/not an x86-64 executable/);
  });
  it('refuses an entry outside the loaded bytes (a virtual entry address)', () => {
    expect(() => parse(kernelElf(0xffffffff81000000, [[MiB, Buffer.alloc(8), 8]]))).toThrow(/entry 0xffffffff81000000 is in no loaded segment/);
  });
  it('refuses a segment running past the end of the file', () => {
    const elf = kernelElf(MiB, [[MiB, Buffer.alloc(8), 8]]);
    expect(() => parseKernelElf((o, n) => elf.subarray(o, o + n), elf.length - 4, 'vmlinux')).toThrow(/PT_LOAD 0 lies outside the file/);
    expect(() => parse(kernelElf(MiB, [[MiB, Buffer.alloc(8), 4]]))).toThrow(/PT_LOAD 0 has more file bytes than memory \(8 > 4\)/);
  });
});

describe('loadKernelElf refuses before writing anything', () => {
  it('a segment below the lowest address allowed, leaving RAM untouched', () => {
    const mem = GuestMemory.allocate([{ gpa: 0, size: 8 * MiB }]);
    try {
      const path = file(
        'low.elf',
        kernelElf(2 * MiB, [
          [2 * MiB, Buffer.alloc(16, 1), 16],
          [0x7000, Buffer.alloc(16, 2), 16],
        ]),
      );
      expect(() => loadKernelElf(mem, path, MiB)).toThrow(/its segment at 0x7000 \(16 bytes\) starts below 0x100000, where the boot data lives/);
      expect(mem.readU8(2 * MiB)).toBe(0);
    } finally {
      mem.release();
    }
  });
  it('a file that is gone, with what to do', () => {
    const mem = GuestMemory.allocate([{ gpa: 0, size: MiB }]);
    try {
      expect(() => loadKernelElf(mem, join(dir, 'never-written.elf'))).toThrow(/never-written\.elf is gone \(removed from the cache after this run prepared it.*: run again$/);
    } finally {
      mem.release();
    }
  });
});

describe('kernelElfHasPvhEntry', () => {
  const text = Buffer.from('T'.repeat(64));
  const withNotes = (name: string, notes: Array<[string, number]>) => file(name, kernelElf(2 * MiB, [[2 * MiB, text, text.length]], notes));

  it('finds the Xen PHYS32_ENTRY note among others', () => {
    expect(
      kernelElfHasPvhEntry(
        withNotes('pvh.elf', [
          ['GNU', 3],
          ['Xen', 6],
          ['Xen', 18],
        ]),
      ),
    ).toBe(true);
  });

  it('is false without it: another Xen note, or type 18 of another name', () => {
    expect(
      kernelElfHasPvhEntry(
        withNotes('no-pvh.elf', [
          ['Xen', 6],
          ['GNU', 18],
        ]),
      ),
    ).toBe(false);
  });

  it('refuses a note running past its segment, however large its sizes', () => {
    for (const namesz of [0xfffffff1, 0x80000000, 64]) {
      const elf = kernelElf(2 * MiB, [[2 * MiB, text, text.length]], [['GNU', 3]]);
      elf.writeUInt32LE(namesz, elf.length - 24); // the note's namesz: 24 bytes from the end (12-byte head, 'GNU\0', 8-byte desc)
      const path = file(`bad-note-${namesz}.elf`, elf);
      expect(() => kernelElfHasPvhEntry(path)).toThrow(`${path} is not an x86-64 kernel ELF: a note at +0 of its PT_NOTE segment runs past the segment`);
    }
  });

  it('refuses what is no x86-64 kernel ELF, naming the file', () => {
    const path = file('zero.bin', Buffer.alloc(128));
    expect(() => kernelElfHasPvhEntry(path)).toThrow(`${path} is not an x86-64 kernel ELF: not a 64-bit little-endian ELF`);
  });
});

// An uncompressed x86-64 Linux kernel (the ELF inside a bzImage, or a build tree's vmlinux)
// loaded as Firecracker loads one: each PT_LOAD segment at its physical address, the vCPU
// entered at e_entry (phys_startup_64) through the same 64-bit boot protocol as a bzImage.
// The segments are read from the file straight into guest RAM: no copy of ~60 MB in the heap.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { GuestMemory } from '../memory.ts';
import { VmmConfigError } from '../errors.ts';
import type { GuestPhysAddr } from '../guest-address.ts';

/** ELF64 (the System V gABI): header and program-header sizes, and the values a kernel has. */
const ELF = { ehdrSize: 64, phdrSize: 56, ptLoad: 1, etExec: 2, emX86_64: 62 } as const;

export interface KernelSegment {
  offset: number;
  paddr: GuestPhysAddr;
  filesz: number;
  memsz: number;
}

export interface KernelElf {
  entry: GuestPhysAddr;
  segments: KernelSegment[];
  /** Lowest and end physical address the segments take. */
  start: GuestPhysAddr;
  end: GuestPhysAddr;
}

/** Parses the ELF header and program headers `read(offset, len)` returns; a VmmConfigError naming `source` if it is no x86-64 kernel. */
export function parseKernelElf(read: (offset: number, len: number) => Buffer, fileSize: number, source: string): KernelElf {
  const fail = (why: string) => new VmmConfigError(`${source} is not a loadable x86-64 kernel ELF: ${why}`);
  if (fileSize < ELF.ehdrSize) throw fail(`${fileSize} bytes is too short for an ELF header`);
  const eh = read(0, ELF.ehdrSize);
  if (eh.readUInt32BE(0) !== 0x7f454c46 || eh[4] !== 2 || eh[5] !== 1) throw fail('not a 64-bit little-endian ELF');
  if (eh.readUInt16LE(0x10) !== ELF.etExec || eh.readUInt16LE(0x12) !== ELF.emX86_64) throw fail('not an x86-64 executable');
  const phoff = Number(eh.readBigUInt64LE(0x20));
  const phentsize = eh.readUInt16LE(0x36);
  const phnum = eh.readUInt16LE(0x38);
  if (phentsize < ELF.phdrSize) throw fail(`e_phentsize ${phentsize} is smaller than an ELF64 program header (${ELF.phdrSize})`);
  if (phoff + phnum * phentsize > fileSize) throw fail('program headers out of the file');
  const ph = read(phoff, phnum * phentsize);
  const segments: KernelSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = i * phentsize;
    if (ph.readUInt32LE(at) !== ELF.ptLoad) continue;
    const seg = {
      offset: Number(ph.readBigUInt64LE(at + 8)),
      paddr: Number(ph.readBigUInt64LE(at + 24)),
      filesz: Number(ph.readBigUInt64LE(at + 32)),
      memsz: Number(ph.readBigUInt64LE(at + 40)),
    };
    if (seg.offset + seg.filesz > fileSize) throw fail(`PT_LOAD ${segments.length} lies outside the file`);
    if (seg.filesz > seg.memsz) throw fail(`PT_LOAD ${segments.length} has more file bytes than memory (${seg.filesz} > ${seg.memsz})`);
    if (seg.memsz > 0) segments.push(seg);
  }
  if (segments.length === 0) throw fail('no PT_LOAD segment');
  const start = Math.min(...segments.map((s) => s.paddr));
  const end = Math.max(...segments.map((s) => s.paddr + s.memsz));
  const entry = Number(eh.readBigUInt64LE(0x18));
  if (!segments.some((s) => entry >= s.paddr && entry < s.paddr + s.filesz)) throw fail(`entry 0x${entry.toString(16)} is in no loaded segment (not a physical address?)`);
  return { entry, segments, start, end };
}

/**
 * Loads the kernel ELF at `path` into guest RAM at its physical addresses, each no lower than
 * `lowest`; every segment is checked before any is written. RAM is fresh (zero), so only file
 * bytes are written.
 */
export function loadKernelElf(mem: GuestMemory, path: string, lowest: GuestPhysAddr = 0): KernelElf {
  const fd = openKernel(path);
  try {
    const readAt = (offset: number, len: number) => {
      const buf = Buffer.alloc(len);
      readSync(fd, buf, 0, len, offset);
      return buf;
    };
    const elf = parseKernelElf(readAt, fstatSync(fd).size, path);
    for (const s of elf.segments) {
      const at = `its segment at 0x${s.paddr.toString(16)} (${s.memsz} bytes)`;
      if (s.paddr < lowest) throw new VmmConfigError(`${path}: ${at} starts below 0x${lowest.toString(16)}, where the boot data lives`);
      if (s.paddr >= 2 ** 52) throw new VmmConfigError(`${path}: ${at} is not a physical address (a kernel's p_paddr must be)`);
      if (!mem.contains(s.paddr, s.memsz)) throw new VmmConfigError(`${path}: ${at} is not in guest RAM: give memory_mb of at least ${Math.ceil(elf.end / 2 ** 20) + 64}`);
    }
    for (const s of elf.segments) {
      let fileAt = s.offset;
      for (const piece of mem.pieces(s.paddr, s.filesz)) {
        for (let done = 0; done < piece.length; ) {
          const n = readSync(fd, piece, done, piece.length - done, fileAt + done);
          if (n === 0) throw new VmmConfigError(`${path}: ends inside a segment (was it rewritten while loading?)`);
          done += n;
        }
        fileAt += piece.length;
      }
    }
    return elf;
  } finally {
    closeSync(fd);
  }
}

function openKernel(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    throw new VmmConfigError(`kernel ELF ${path} is gone (removed from the cache after this run prepared it: its bzImage rebuilt meanwhile?): run again`);
  }
}

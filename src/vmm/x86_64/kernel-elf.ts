// An uncompressed x86-64 Linux kernel (the ELF inside a bzImage, or a build tree's vmlinux)
// loaded as Firecracker loads one: each PT_LOAD segment at its physical address, the vCPU
// entered at e_entry (phys_startup_64) through the same 64-bit boot protocol as a bzImage.
// The segments are read from the file straight into guest RAM: no copy of ~60 MB in the heap.
import { closeSync, fstatSync, openSync } from 'node:fs';
import { fillAt, readAt } from '../file-read.ts';
import type { GuestMemory } from '../memory.ts';
import { VmmConfigError } from '../errors.ts';
import type { GuestPhysAddr } from '../guest-address.ts';

/** ELF64 (the System V gABI): header and program-header sizes, and the values a kernel has. */
const ELF = { ehdrSize: 64, phdrSize: 56, ptLoad: 1, ptNote: 4, etExec: 2, emX86_64: 62 } as const;
/** The note QEMU's and Firecracker's PVH boot enter a kernel by (XEN_ELFNOTE_PHYS32_ENTRY). */
const PVH_NOTE = { name: 'Xen', type: 18 } as const;

interface ProgramHeader {
  type: number;
  offset: number;
  paddr: number;
  filesz: number;
  memsz: number;
}
type ReadAt = (offset: number, len: number) => Buffer;

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

/** The ELF header's entry and the program headers of an x86-64 kernel executable; `fail` names what is wrong. */
function readHeaders(read: ReadAt, fileSize: number, fail: (why: string) => Error): { entry: number; headers: ProgramHeader[] } {
  if (fileSize < ELF.ehdrSize) throw fail(`${fileSize} bytes is too short for an ELF header`);
  const eh = read(0, ELF.ehdrSize);
  if (eh.length < ELF.ehdrSize) throw fail('the file ends inside its ELF header (rewritten while read?)');
  if (eh.readUInt32BE(0) !== 0x7f454c46 || eh[4] !== 2 || eh[5] !== 1) throw fail('not a 64-bit little-endian ELF');
  if (eh.readUInt16LE(0x10) !== ELF.etExec || eh.readUInt16LE(0x12) !== ELF.emX86_64) throw fail('not an x86-64 executable');
  const phoff = Number(eh.readBigUInt64LE(0x20));
  const phentsize = eh.readUInt16LE(0x36);
  const phnum = eh.readUInt16LE(0x38);
  if (phentsize < ELF.phdrSize) throw fail(`e_phentsize ${phentsize} is smaller than an ELF64 program header (${ELF.phdrSize})`);
  if (phoff + phnum * phentsize > fileSize) throw fail('program headers out of the file');
  const ph = read(phoff, phnum * phentsize);
  if (ph.length < phnum * phentsize) throw fail('the file ends inside its program headers (rewritten while read?)');
  const headers = Array.from({ length: phnum }, (_, i) => {
    const at = i * phentsize;
    return {
      type: ph.readUInt32LE(at),
      offset: Number(ph.readBigUInt64LE(at + 8)),
      paddr: Number(ph.readBigUInt64LE(at + 24)),
      filesz: Number(ph.readBigUInt64LE(at + 32)),
      memsz: Number(ph.readBigUInt64LE(at + 40)),
    };
  });
  return { entry: Number(eh.readBigUInt64LE(0x18)), headers };
}

/** Parses the ELF header and program headers `read(offset, len)` returns; a VmmConfigError naming `source` if it is no x86-64 kernel. */
export function parseKernelElf(read: ReadAt, fileSize: number, source: string): KernelElf {
  const fail = (why: string) => new VmmConfigError(`${source} is not a loadable x86-64 kernel ELF: ${why}`);
  const { entry, headers } = readHeaders(read, fileSize, fail);
  const segments: KernelSegment[] = [];
  for (const { type, ...seg } of headers) {
    if (type !== ELF.ptLoad) continue;
    if (seg.offset + seg.filesz > fileSize) throw fail(`PT_LOAD ${segments.length} lies outside the file`);
    if (seg.filesz > seg.memsz) throw fail(`PT_LOAD ${segments.length} has more file bytes than memory (${seg.filesz} > ${seg.memsz})`);
    if (seg.memsz > 0) segments.push(seg);
  }
  if (segments.length === 0) throw fail('no PT_LOAD segment');
  const start = Math.min(...segments.map((s) => s.paddr));
  const end = Math.max(...segments.map((s) => s.paddr + s.memsz));
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
    const elf = parseKernelElf((offset, len) => readAt(fd, len, offset), fstatSync(fd).size, path);
    for (const s of elf.segments) {
      const at = `its segment at 0x${s.paddr.toString(16)} (${s.memsz} bytes)`;
      if (s.paddr < lowest) throw new VmmConfigError(`${path}: ${at} starts below 0x${lowest.toString(16)}, where the boot data lives`);
      if (s.paddr >= 2 ** 52) throw new VmmConfigError(`${path}: ${at} is not a physical address (a kernel's p_paddr must be)`);
      if (!mem.contains(s.paddr, s.memsz)) throw new VmmConfigError(`${path}: ${at} is not in guest RAM: give memory_mb of at least ${Math.ceil(elf.end / 2 ** 20) + 64}`);
    }
    for (const s of elf.segments) {
      let fileAt = s.offset;
      for (const piece of mem.pieces(s.paddr, s.filesz)) {
        if (fillAt(fd, piece, fileAt) < piece.length) throw new VmmConfigError(`${path}: ends inside a segment (was it rewritten while loading?)`);
        fileAt += piece.length;
      }
    }
    return elf;
  } finally {
    closeSync(fd);
  }
}

/**
 * Whether the kernel ELF at `path` carries the PVH entry note (a kernel built with CONFIG_PVH),
 * by which QEMU boots it with no setup code or decompressor. Throws a VmmConfigError if it is
 * no x86-64 kernel ELF.
 */
export function kernelElfHasPvhEntry(path: string): boolean {
  const fd = openKernel(path);
  try {
    const read: ReadAt = (offset, len) => readAt(fd, len, offset);
    const size = fstatSync(fd).size;
    const fail = (why: string) => new VmmConfigError(`${path} is not an x86-64 kernel ELF: ${why}`);
    for (const note of readHeaders(read, size, fail).headers.filter((h) => h.type === ELF.ptNote)) {
      if (note.offset + note.filesz > size) throw fail('a PT_NOTE segment lies outside the file');
      if (hasNote(read(note.offset, note.filesz), PVH_NOTE, fail)) return true;
    }
    return false;
  } finally {
    closeSync(fd);
  }
}

/** Whether the notes in `notes` (one PT_NOTE segment: namesz, descsz, type, name, desc, each 4-aligned) include (name, type). */
function hasNote(notes: Buffer, want: { name: string; type: number }, fail: (why: string) => Error): boolean {
  const align4 = (n: number) => Math.ceil(n / 4) * 4; // not bitwise: sizes are 32-bit unsigned
  for (let at = 0; at + 12 <= notes.length; ) {
    const namesz = notes.readUInt32LE(at);
    const next = at + 12 + align4(namesz) + align4(notes.readUInt32LE(at + 4));
    // Each step moves forward (by 12 at least), so a malformed note cannot loop.
    if (at + 12 + namesz > notes.length || next > align4(notes.length)) throw fail(`a note at +${at} of its PT_NOTE segment runs past the segment`);
    const name = notes.toString('latin1', at + 12, at + 12 + namesz).replace(/\0+$/, '');
    if (name === want.name && notes.readUInt32LE(at + 8) === want.type) return true;
    at = next;
  }
  return false;
}

function openKernel(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    throw new VmmConfigError(`kernel ELF ${path} is gone (removed from the cache after this run prepared it: its bzImage rebuilt meanwhile?): run again`);
  }
}

// Guest RAM: anonymous host mappings, with bounds-checked access by guest-physical address.
import { readFileSync } from 'node:fs';
import { hostView, MADV_HUGEPAGE, madvise, MAP_ANONYMOUS, MAP_FAILED, MAP_NORESERVE, MAP_PRIVATE, mmap, munmap, PROT_READ, PROT_WRITE, errno, OsError } from './sys/libc.ts';
import { VmmStateError } from './errors.ts';
import type { GuestPhysAddr } from './guest-address.ts';

export interface RamRegion {
  /** Guest-physical start. */
  gpa: GuestPhysAddr;
  size: number;
  /** Host virtual address of the mapping. */
  hostAddr: bigint;
}

const HUGE_PAGE = 2 << 20;

/**
 * The host kernel's transparent-huge-page policy needs MADV_HUGEPAGE for guest RAM to get huge
 * pages: `[madvise]`, as QEMU assumes. Under `[always]` (the sandbox's) the advice adds nothing
 * but direct reclaim and compaction at page-fault time (the default `defrag` policy for advised
 * regions), which under emulation can hold a guest's vCPU for a long time; under `[never]`,
 * or without THP, it is refused anyway.
 */
export function thpWantsAdvice(policy: string): boolean {
  return /\[madvise\]/.test(policy);
}

let adviseHugePages: boolean | undefined;
function hugePageAdvice(): boolean {
  if (adviseHugePages === undefined) {
    try {
      adviseHugePages = thpWantsAdvice(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'));
    } catch {
      adviseHugePages = false;
    }
  }
  return adviseHugePages;
}

/**
 * Anonymous RAM at a 2 MiB-aligned address, as QEMU maps guest RAM, so KVM can map the guest
 * through 2 MiB pages wherever the host's THP policy gives them (see thpWantsAdvice).
 */
function mapHugeAligned(size: number): bigint {
  const span = size + HUGE_PAGE;
  const raw = mmap(null, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw === MAP_FAILED) throw new OsError(`mmap of ${size} bytes of guest RAM`, errno());
  const huge = BigInt(HUGE_PAGE);
  const start = (raw + huge - 1n) & ~(huge - 1n);
  const head = Number(start - raw);
  if (head > 0) munmap(raw, head);
  munmap(start + BigInt(size), HUGE_PAGE - head); // the slack past the end: never empty (head < 2 MiB)
  if (hugePageAdvice()) madvise(start, size, MADV_HUGEPAGE); // advice only: 4 KiB pages do if refused
  return start;
}

export class GuestMemoryError extends RangeError {
  constructor(gpa: GuestPhysAddr, len: number) {
    super(`guest-physical range 0x${gpa.toString(16)}+0x${len.toString(16)} is outside guest RAM`);
    this.name = 'GuestMemoryError';
  }
}

interface MappedRegion extends RamRegion {
  bytes: Uint8Array;
  view: DataView;
}

export class GuestMemory {
  private readonly mapped: MappedRegion[];
  private released = false;

  private constructor(
    regions: RamRegion[],
    private readonly owner: boolean,
  ) {
    this.mapped = regions.map((r) => {
      const ab = hostView(r.hostAddr, r.size);
      return { ...r, bytes: new Uint8Array(ab), view: new DataView(ab) };
    });
  }

  /** Maps fresh zeroed RAM for each (gpa, size) range; pages are touched lazily. */
  static allocate(layout: Array<{ gpa: GuestPhysAddr; size: number }>): GuestMemory {
    const regions: RamRegion[] = [];
    try {
      for (const { gpa, size } of layout) {
        regions.push({ gpa, size, hostAddr: mapHugeAligned(size) });
      }
    } catch (e) {
      for (const r of regions) munmap(r.hostAddr, r.size);
      throw e;
    }
    return new GuestMemory(regions, true);
  }

  /** Another thread's handle on the same RAM; it never unmaps. */
  static attach(regions: RamRegion[]): GuestMemory {
    return new GuestMemory(regions, false);
  }

  get regions(): RamRegion[] {
    return this.mapped.map(({ gpa, size, hostAddr }) => ({ gpa, size, hostAddr }));
  }

  get size(): number {
    return this.mapped.reduce((n, r) => n + r.size, 0);
  }

  private locate(gpa: GuestPhysAddr, len: number): { r: MappedRegion; off: number } {
    if (this.released) throw new VmmStateError('guest memory already released');
    if (Number.isInteger(gpa) && Number.isInteger(len) && len >= 0) {
      for (const r of this.mapped) {
        if (gpa >= r.gpa && gpa + len <= r.gpa + r.size) return { r, off: gpa - r.gpa };
      }
    }
    throw new GuestMemoryError(gpa, len);
  }

  /** A live view (no copy) of guest RAM; valid until release(). */
  slice(gpa: GuestPhysAddr, len: number): Uint8Array {
    const { r, off } = this.locate(gpa, len);
    return r.bytes.subarray(off, off + len);
  }
  /** True when [gpa, gpa + len) lies in RAM, possibly across adjacent regions. */
  contains(gpa: GuestPhysAddr, len: number): boolean {
    if (!Number.isSafeInteger(gpa) || !Number.isSafeInteger(len) || gpa < 0 || len < 0) return false;
    for (let at = gpa; at < gpa + len; ) {
      const r = this.regionAt(at);
      if (!r) return false;
      at = r.gpa + r.size;
    }
    return true;
  }

  /** Live views of [gpa, gpa + len), one per region it touches (adjacent regions join up); a GuestMemoryError if any of it is not RAM. */
  pieces(gpa: GuestPhysAddr, len: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let at = gpa, left = len; left > 0; ) {
      const r = this.regionAt(at);
      const n = r ? Math.min(left, r.gpa + r.size - at) : left; // not RAM: slice throws
      out.push(this.slice(at, n));
      at += n;
      left -= n;
    }
    return out;
  }

  /** A copy of [gpa, gpa + len), across adjacent regions. */
  read(gpa: GuestPhysAddr, len: number): Uint8Array {
    const out = new Uint8Array(len);
    let off = 0;
    for (const p of this.pieces(gpa, len)) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }

  /** Writes `data` at gpa, across adjacent regions; nothing is written unless all of it is RAM. */
  write(gpa: GuestPhysAddr, data: Uint8Array): void {
    let off = 0;
    for (const p of this.pieces(gpa, data.length)) {
      p.set(data.subarray(off, off + p.length));
      off += p.length;
    }
  }

  /** A 16-bit ring field, read in one access (seq-cst: later reads see what the writer published before it). */
  loadU16(gpa: GuestPhysAddr): number {
    const b = this.slice(gpa, 2);
    if (b.byteOffset & 1) return b[0]! | (b[1]! << 8);
    return Atomics.load(new Uint16Array(b.buffer, b.byteOffset, 1), 0);
  }

  /** A 16-bit ring field, written in one access after every earlier write (a used index). */
  storeU16(gpa: GuestPhysAddr, v: number): void {
    const b = this.slice(gpa, 2);
    if (b.byteOffset & 1) {
      b[0] = v & 0xff;
      b[1] = (v >> 8) & 0xff;
      return;
    }
    Atomics.store(new Uint16Array(b.buffer, b.byteOffset, 1), 0, v);
  }

  private regionAt(gpa: GuestPhysAddr): MappedRegion | undefined {
    return this.mapped.find((r) => gpa >= r.gpa && gpa < r.gpa + r.size);
  }
  readU8(gpa: GuestPhysAddr): number {
    const { r, off } = this.locate(gpa, 1);
    return r.view.getUint8(off);
  }
  readU32(gpa: GuestPhysAddr): number {
    const { r, off } = this.locate(gpa, 4);
    return r.view.getUint32(off, true);
  }
  readU64(gpa: GuestPhysAddr): bigint {
    const { r, off } = this.locate(gpa, 8);
    return r.view.getBigUint64(off, true);
  }
  writeU8(gpa: GuestPhysAddr, v: number): void {
    const { r, off } = this.locate(gpa, 1);
    r.view.setUint8(off, v);
  }
  writeU16(gpa: GuestPhysAddr, v: number): void {
    const { r, off } = this.locate(gpa, 2);
    r.view.setUint16(off, v, true);
  }
  writeU32(gpa: GuestPhysAddr, v: number): void {
    const { r, off } = this.locate(gpa, 4);
    r.view.setUint32(off, v, true);
  }
  writeU64(gpa: GuestPhysAddr, v: bigint): void {
    const { r, off } = this.locate(gpa, 8);
    r.view.setBigUint64(off, v, true);
  }

  /** Unmaps the RAM (owner only). Every view taken from it is dead afterwards. */
  release(): void {
    if (this.released) return;
    this.released = true;
    if (this.owner) for (const r of this.mapped) munmap(r.hostAddr, r.size);
  }
}

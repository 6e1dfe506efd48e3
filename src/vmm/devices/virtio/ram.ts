// Device-side view of guest RAM. Every access still goes through GuestMemory (bounds-checked);
// this adds range checks across adjacent regions and untorn 16-bit ring indexes.
import type { GuestMemory } from '../../memory.ts';

interface Span {
  start: number;
  end: number;
}

export class GuestRam {
  private readonly spans: Span[];

  constructor(readonly memory: GuestMemory) {
    this.spans = memory.regions.map((r) => ({ start: r.gpa, end: r.gpa + r.size })).sort((a, b) => a.start - b.start);
  }

  /** True when [addr, addr + len) lies in RAM (possibly across adjacent regions). */
  contains(addr: number, len: number): boolean {
    if (!Number.isSafeInteger(addr) || !Number.isSafeInteger(len) || addr < 0 || len < 0) return false;
    let at = addr;
    const end = addr + len;
    if (len === 0) return true;
    while (at < end) {
      const s = this.spanAt(at);
      if (!s) return false;
      at = s.end;
    }
    return true;
  }

  /** Live views of [addr, addr + len), one per region it touches. */
  pieces(addr: number, len: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    let at = addr;
    let left = len;
    while (left > 0) {
      const s = this.spanAt(at);
      const n = s ? Math.min(left, s.end - at) : left; // no span: let GuestMemory throw
      out.push(this.memory.slice(at, n));
      at += n;
      left -= n;
    }
    return out;
  }

  read(addr: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    let off = 0;
    for (const p of this.pieces(addr, len)) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }

  write(addr: number, bytes: Uint8Array): void {
    let off = 0;
    for (const p of this.pieces(addr, bytes.length)) {
      p.set(bytes.subarray(off, off + p.length));
      off += p.length;
    }
  }

  readU32(addr: number): number {
    return this.memory.readU32(addr);
  }
  writeU32(addr: number, v: number): void {
    this.memory.writeU32(addr, v);
  }
  readU64(addr: number): bigint {
    return this.memory.readU64(addr);
  }

  /** A 16-bit ring field, read in one access (seq-cst: later reads see what the writer published before it). */
  loadU16(addr: number): number {
    const b = this.memory.slice(addr, 2);
    if (b.byteOffset & 1) return b[0]! | (b[1]! << 8);
    return Atomics.load(new Uint16Array(b.buffer, b.byteOffset, 1), 0);
  }

  /** A 16-bit ring field, written in one access after every earlier write (the used index). */
  storeU16(addr: number, v: number): void {
    const b = this.memory.slice(addr, 2);
    if (b.byteOffset & 1) {
      b[0] = v & 0xff;
      b[1] = (v >> 8) & 0xff;
      return;
    }
    Atomics.store(new Uint16Array(b.buffer, b.byteOffset, 1), 0, v);
  }

  private spanAt(addr: number): Span | undefined {
    for (const s of this.spans) if (addr >= s.start && addr < s.end) return s;
    return undefined;
  }
}

// Scatter-gather access to a chain's validated buffers, by offset into their concatenation.
import type { GuestMemory } from '../../memory.ts';
import type { DescriptorChain, GuestBuffer } from './chain.ts';

abstract class BufferList {
  readonly length: number;

  constructor(
    protected readonly ram: GuestMemory,
    readonly buffers: readonly GuestBuffer[],
  ) {
    this.length = buffers.reduce((n, b) => n + b.len, 0);
  }

  /** The buffers covering [offset, offset + len) of the concatenation. */
  protected range(offset: number, len = this.length - offset): GuestBuffer[] {
    if (offset < 0 || len < 0 || offset + len > this.length) throw new RangeError(`range ${offset}+${len} is outside ${this.length} bytes of buffers`);
    const out: GuestBuffer[] = [];
    let skip = offset;
    let left = len;
    for (const b of this.buffers) {
      if (left === 0) break;
      if (skip >= b.len) {
        skip -= b.len;
        continue;
      }
      const n = Math.min(b.len - skip, left);
      out.push({ addr: b.addr + skip, len: n });
      skip = 0;
      left -= n;
    }
    return out;
  }

  /** Live views of guest RAM over the bytes, in order (zero-copy file I/O). */
  views(): Uint8Array[] {
    return this.buffers.flatMap((b) => this.ram.pieces(b.addr, b.len));
  }
}

/** Device-readable bytes. */
export class ReadableBuffers extends BufferList {
  static of(ram: GuestMemory, chain: DescriptorChain): ReadableBuffers {
    return new ReadableBuffers(ram, chain.readable);
  }
  slice(offset: number, len?: number): ReadableBuffers {
    return new ReadableBuffers(this.ram, this.range(offset, len));
  }
  /** A copy of [offset, offset + len). */
  read(offset = 0, len = this.length - offset): Uint8Array {
    const out = new Uint8Array(len);
    let at = 0;
    for (const b of this.range(offset, len)) {
      out.set(this.ram.read(b.addr, b.len), at);
      at += b.len;
    }
    return out;
  }
}

/** Device-writable bytes. */
export class WritableBuffers extends BufferList {
  static of(ram: GuestMemory, chain: DescriptorChain): WritableBuffers {
    return new WritableBuffers(ram, chain.writable);
  }
  slice(offset: number, len?: number): WritableBuffers {
    return new WritableBuffers(this.ram, this.range(offset, len));
  }
  /** Writes `bytes` at `offset`; they must fit. */
  write(offset: number, bytes: Uint8Array): void {
    let at = 0;
    for (const b of this.range(offset, bytes.length)) {
      this.ram.write(b.addr, bytes.subarray(at, at + b.len));
      at += b.len;
    }
  }
  fill(value: number, offset = 0, len = this.length - offset): void {
    for (const b of this.range(offset, len)) for (const v of this.ram.pieces(b.addr, b.len)) v.fill(value);
  }
}

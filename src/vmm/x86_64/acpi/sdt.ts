// Little-endian byte building and the 36-byte System Description Table header (ACPI 6.5 §5.2.6).

export const OEM_ID = 'SCHDVM';
export const OEM_TABLE_ID = 'SCHEDVM ';
export const CREATOR_ID = 'SVMM';
export const SDT_HEADER_SIZE = 36;

/** Growable little-endian byte buffer. */
export class ByteWriter {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): number {
    const at = this.length;
    if (at + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, at + n));
      next.set(this.buf);
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    this.length += n;
    return at;
  }

  u8(v: number): this {
    const at = this.reserve(1); // before touching this.view: reserve() may replace it
    this.view.setUint8(at, v);
    return this;
  }
  u16(v: number): this {
    const at = this.reserve(2);
    this.view.setUint16(at, v, true);
    return this;
  }
  u32(v: number): this {
    const at = this.reserve(4);
    this.view.setUint32(at, v >>> 0, true);
    return this;
  }
  u64(v: number | bigint): this {
    const at = this.reserve(8);
    this.view.setBigUint64(at, BigInt(v), true);
    return this;
  }
  bytes(b: ArrayLike<number>): this {
    const at = this.reserve(b.length);
    this.buf.set(b, at);
    return this;
  }
  /** ASCII, padded with `pad` or cut to exactly `width` bytes. */
  ascii(s: string, width = s.length, pad = ' '): this {
    const text = s.padEnd(width, pad).slice(0, width);
    for (let i = 0; i < width; i++) this.u8(text.charCodeAt(i) & 0x7f);
    return this;
  }
  zeros(n: number): this {
    this.reserve(n); // fresh bytes are zero
    return this;
  }
  /** Patches a u8 already written. */
  setU8(at: number, v: number): void {
    this.view.setUint8(at, v);
  }
  setU32(at: number, v: number): void {
    this.view.setUint32(at, v >>> 0, true);
  }
  toBytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

export function sum8(bytes: ArrayLike<number>, start = 0, end = bytes.length): number {
  let s = 0;
  for (let i = start; i < end; i++) s = (s + bytes[i]!) & 0xff;
  return s;
}

/** The byte that makes `bytes` sum to zero (mod 256) when stored in a zeroed checksum field. */
export function checksumOf(bytes: ArrayLike<number>, start = 0, end = bytes.length): number {
  return (0x100 - sum8(bytes, start, end)) & 0xff;
}

export interface SdtHeader {
  signature: string;
  revision: number;
  oemTableId?: string;
  oemRevision?: number;
}

/** A complete table: header with length and checksum filled in, then `body`. */
export function sdt(h: SdtHeader, body: Uint8Array): Uint8Array {
  const w = new ByteWriter()
    .ascii(h.signature, 4)
    .u32(SDT_HEADER_SIZE + body.length)
    .u8(h.revision)
    .u8(0) // checksum, below
    .ascii(OEM_ID, 6)
    .ascii(h.oemTableId ?? OEM_TABLE_ID, 8)
    .u32(h.oemRevision ?? 1)
    .ascii(CREATOR_ID, 4)
    .u32(1)
    .bytes(body);
  const out = w.toBytes();
  out[9] = checksumOf(out);
  return out;
}

/** Generic Address Structure (§5.2.3.2). */
export function gas(w: ByteWriter, spaceId: number, bitWidth: number, address: number | bigint, accessSize = 0): void {
  w.u8(spaceId).u8(bitWidth).u8(0).u8(accessSize).u64(address);
}
export const GAS_SYSTEM_IO = 1;

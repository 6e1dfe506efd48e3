// Single-producer/single-consumer ring of whole frames in shared memory (a 4-byte length, then
// the bytes), counters free-running mod 2^32. Never blocks: a full ring refuses the frame.
const HEAD = 0; // bytes ever written
const TAIL = 1; // bytes ever read
const HEADER = 8;
const LEN_BYTES = 4;

export class FrameRing {
  private readonly idx: Int32Array;
  private readonly data: Uint8Array;
  readonly capacity: number;

  constructor(readonly sab: SharedArrayBuffer) {
    this.idx = new Int32Array(sab, 0, 2);
    this.data = new Uint8Array(sab, HEADER);
    this.capacity = this.data.length;
    // Offsets are counters mod 2^32 taken mod capacity: a power of two keeps them continuous.
    if (this.capacity < 16 || (this.capacity & (this.capacity - 1)) !== 0) throw new RangeError(`frame ring capacity ${this.capacity} is not a power of two >= 16`);
  }

  static create(capacity: number): FrameRing {
    return new FrameRing(new SharedArrayBuffer(HEADER + capacity));
  }

  private get used(): number {
    return (Atomics.load(this.idx, HEAD) - Atomics.load(this.idx, TAIL)) >>> 0;
  }

  get empty(): boolean {
    return this.used === 0;
  }

  /** Whether a frame of `len` bytes fits now. */
  fits(len: number): boolean {
    return LEN_BYTES + len <= this.capacity - this.used;
  }

  push(frame: Uint8Array): boolean {
    if (!this.fits(frame.length)) return false;
    const head = Atomics.load(this.idx, HEAD) >>> 0;
    const len = Uint8Array.of(frame.length & 0xff, (frame.length >>> 8) & 0xff, (frame.length >>> 16) & 0xff, frame.length >>> 24);
    this.copyIn(head, len);
    this.copyIn(head + LEN_BYTES, frame);
    Atomics.store(this.idx, HEAD, (head + LEN_BYTES + frame.length) | 0);
    return true;
  }

  /** Length of the oldest frame, or undefined when empty. */
  peekLength(): number | undefined {
    if (this.empty) return undefined;
    const b = this.copyOut(Atomics.load(this.idx, TAIL) >>> 0, LEN_BYTES);
    return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  }

  pop(): Uint8Array | undefined {
    const len = this.peekLength();
    if (len === undefined) return undefined;
    const tail = Atomics.load(this.idx, TAIL) >>> 0;
    const frame = this.copyOut(tail + LEN_BYTES, len);
    Atomics.store(this.idx, TAIL, (tail + LEN_BYTES + len) | 0);
    return frame;
  }

  private copyIn(at: number, bytes: Uint8Array): void {
    const start = (at >>> 0) % this.capacity;
    const first = Math.min(bytes.length, this.capacity - start);
    this.data.set(bytes.subarray(0, first), start);
    if (first < bytes.length) this.data.set(bytes.subarray(first), 0);
  }

  private copyOut(at: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    const start = (at >>> 0) % this.capacity;
    const first = Math.min(len, this.capacity - start);
    out.set(this.data.subarray(start, start + first));
    if (first < len) out.set(this.data.subarray(0, len - first), first);
    return out;
  }
}

// Single-producer/single-consumer ring of whole frames in shared memory (a 4-byte length, then
// the bytes), counters free-running mod 2^32. Never blocks: a full ring refuses the frame.
import { SpscRing } from '../../spsc-ring.ts';

const LEN_BYTES = 4;

export class FrameRing {
  private readonly ring: SpscRing;

  constructor(readonly sab: SharedArrayBuffer) {
    this.ring = new SpscRing(sab);
    // Offsets are counters mod 2^32 taken mod capacity: a power of two keeps them continuous.
    const c = this.ring.capacity;
    if (c < 16 || (c & (c - 1)) !== 0) throw new RangeError(`frame ring capacity ${c} is not a power of two >= 16`);
  }

  static create(capacity: number): FrameRing {
    return new FrameRing(SpscRing.buffer(capacity));
  }

  get capacity(): number {
    return this.ring.capacity;
  }

  get empty(): boolean {
    return this.ring.used === 0;
  }

  /** Whether a frame of `len` bytes fits now. */
  fits(len: number): boolean {
    return LEN_BYTES + len <= this.ring.capacity - this.ring.used;
  }

  push(frame: Uint8Array): boolean {
    if (!this.fits(frame.length)) return false;
    const head = this.ring.head >>> 0;
    const len = Uint8Array.of(frame.length & 0xff, (frame.length >>> 8) & 0xff, (frame.length >>> 16) & 0xff, frame.length >>> 24);
    this.ring.copyIn(head, len);
    this.ring.copyIn(head + LEN_BYTES, frame);
    this.ring.publish(head + LEN_BYTES + frame.length);
    return true;
  }

  /** Length of the oldest frame, or undefined when empty. */
  peekLength(): number | undefined {
    if (this.empty) return undefined;
    const b = this.ring.copyOut(this.ring.tail >>> 0, LEN_BYTES);
    return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  }

  pop(): Uint8Array | undefined {
    const len = this.peekLength();
    if (len === undefined) return undefined;
    const tail = this.ring.tail >>> 0;
    const frame = this.ring.copyOut(tail + LEN_BYTES, len);
    this.ring.release(tail + LEN_BYTES + len);
    return frame;
  }
}

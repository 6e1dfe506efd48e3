// Single-producer/single-consumer byte ring in shared memory (SpscRing's storage). The producer
// blocks (bounded waits) when the consumer falls a full ring behind: console output is never
// dropped.
import { SpscRing } from './spsc-ring.ts';

export class ByteRing {
  private readonly ring: SpscRing;

  constructor(readonly sab: SharedArrayBuffer) {
    this.ring = new SpscRing(sab);
  }

  static create(capacity: number): ByteRing {
    return new ByteRing(SpscRing.buffer(capacity));
  }

  get capacity(): number {
    return this.ring.capacity;
  }

  get available(): number {
    return this.ring.used;
  }

  push(byte: number): void {
    const r = this.ring;
    const head = r.head;
    for (;;) {
      const tail = r.tail;
      if ((head - tail) >>> 0 < r.capacity) break;
      r.waitForRoom(tail, 5);
    }
    r.setByte(head, byte);
    r.publish(head + 1);
  }

  /** Takes one byte; call only when available > 0. */
  drainOne(): number {
    const tail = this.ring.tail;
    const b = this.ring.byteAt(tail);
    this.ring.release(tail + 1);
    return b;
  }

  /** Takes everything written so far. */
  drain(): Uint8Array {
    const tail = this.ring.tail;
    const out = this.ring.copyOut(tail, (this.ring.head - tail) >>> 0);
    this.ring.release(tail + out.length);
    return out;
  }
}

// Single-producer/single-consumer byte ring in shared memory, counters free-running mod 2^32.
// The producer blocks (bounded waits) when the consumer falls a full ring behind: console
// output is never dropped.
const HEAD = 0; // bytes ever written
const TAIL = 1; // bytes ever read
const HEADER = 8;

export class ByteRing {
  private readonly idx: Int32Array;
  private readonly data: Uint8Array;
  readonly capacity: number;

  constructor(readonly sab: SharedArrayBuffer) {
    this.idx = new Int32Array(sab, 0, 2);
    this.data = new Uint8Array(sab, HEADER);
    this.capacity = this.data.length;
  }

  static create(capacity: number): ByteRing {
    return new ByteRing(new SharedArrayBuffer(HEADER + capacity));
  }

  get available(): number {
    return (Atomics.load(this.idx, HEAD) - Atomics.load(this.idx, TAIL)) >>> 0;
  }

  push(byte: number): void {
    const head = Atomics.load(this.idx, HEAD);
    for (;;) {
      const tail = Atomics.load(this.idx, TAIL);
      if ((head - tail) >>> 0 < this.capacity) break;
      Atomics.wait(this.idx, TAIL, tail, 5);
    }
    this.data[(head >>> 0) % this.capacity] = byte;
    Atomics.store(this.idx, HEAD, (head + 1) | 0);
  }

  /** Takes one byte; call only when available > 0. */
  drainOne(): number {
    const tail = Atomics.load(this.idx, TAIL);
    const b = this.data[(tail >>> 0) % this.capacity]!;
    Atomics.store(this.idx, TAIL, (tail + 1) | 0);
    Atomics.notify(this.idx, TAIL);
    return b;
  }

  /** Takes everything written so far. */
  drain(): Uint8Array {
    const tail = Atomics.load(this.idx, TAIL);
    const n = (Atomics.load(this.idx, HEAD) - tail) >>> 0;
    const out = new Uint8Array(n);
    const start = (tail >>> 0) % this.capacity;
    const first = Math.min(n, this.capacity - start);
    out.set(this.data.subarray(start, start + first));
    if (n > first) out.set(this.data.subarray(0, n - first), first);
    Atomics.store(this.idx, TAIL, (tail + n) | 0);
    Atomics.notify(this.idx, TAIL);
    return out;
  }
}

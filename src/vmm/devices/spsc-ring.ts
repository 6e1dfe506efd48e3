// The storage of a single-producer/single-consumer ring in shared memory: a head and a tail
// counter (bytes ever written and ever read, free-running mod 2^32), then the bytes. ByteRing
// (console output) and FrameRing (virtio-net frames) keep their own protocols on top of it.
const HEAD = 0;
const TAIL = 1;
const HEADER = 8;

export class SpscRing {
  private readonly idx: Int32Array;
  private readonly data: Uint8Array;
  readonly capacity: number;

  constructor(readonly sab: SharedArrayBuffer) {
    this.idx = new Int32Array(sab, 0, 2);
    this.data = new Uint8Array(sab, HEADER);
    this.capacity = this.data.length;
  }

  static buffer(capacity: number): SharedArrayBuffer {
    return new SharedArrayBuffer(HEADER + capacity);
  }

  get head(): number {
    return Atomics.load(this.idx, HEAD);
  }
  get tail(): number {
    return Atomics.load(this.idx, TAIL);
  }
  /** Bytes written and not yet read. */
  get used(): number {
    return (this.head - this.tail) >>> 0;
  }

  /** Producer: makes everything up to `head` visible to the consumer. */
  publish(head: number): void {
    Atomics.store(this.idx, HEAD, head | 0);
  }
  /** Consumer: frees everything up to `tail`, waking a producer waiting for room. */
  release(tail: number): void {
    Atomics.store(this.idx, TAIL, tail | 0);
    Atomics.notify(this.idx, TAIL);
  }
  /** Producer: waits (at most `ms`) for the consumer to move the tail from `tail`. */
  waitForRoom(tail: number, ms: number): void {
    Atomics.wait(this.idx, TAIL, tail, ms);
  }

  setByte(at: number, byte: number): void {
    this.data[(at >>> 0) % this.capacity] = byte;
  }
  byteAt(at: number): number {
    return this.data[(at >>> 0) % this.capacity]!;
  }

  copyIn(at: number, bytes: Uint8Array): void {
    const start = (at >>> 0) % this.capacity;
    const first = Math.min(bytes.length, this.capacity - start);
    this.data.set(bytes.subarray(0, first), start);
    if (first < bytes.length) this.data.set(bytes.subarray(first), 0);
  }

  copyOut(at: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    const start = (at >>> 0) % this.capacity;
    const first = Math.min(len, this.capacity - start);
    out.set(this.data.subarray(start, start + first));
    if (first < len) out.set(this.data.subarray(0, len - first), first);
    return out;
  }
}

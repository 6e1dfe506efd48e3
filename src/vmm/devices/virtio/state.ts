// Layout of a virtio-mmio transport's shared state: Int32 words in a SharedArrayBuffer, so every
// vCPU thread (and the VMM's main thread) drives the same device. All words but the counters are
// read and written with the lock (word 0) held.
import type { GuestPhysAddr } from '../../guest-address.ts';

export const W_LOCK = 0;
export const W_STATUS = 1;
export const W_DEVICE_FEATURES_SEL = 2;
export const W_DRIVER_FEATURES_SEL = 3;
export const W_DRIVER_FEATURES_LO = 4;
export const W_DRIVER_FEATURES_HI = 5;
/** Non-zero when the driver wrote feature bits past bit 63. */
export const W_DRIVER_FEATURES_BAD = 6;
export const W_QUEUE_SEL = 7;
export const W_INTERRUPT_STATUS = 8;
export const W_CONFIG_GENERATION = 9;
/** 1 + index into FAULTS of why the device needs a reset; 0 when it does not. */
export const W_FAULT = 10;
export const W_QUEUE_COUNT = 11;
/** Bit n: queue n stopped for lack of host-side room; the host resumes it. */
export const W_STALLED = 12;
/** Counter (Atomics): interrupts signalled. */
export const W_INTERRUPTS = 13;
const HEADER_WORDS = 16;

// Per-queue words, at queueBase(q).
export const Q_NUM = 0;
export const Q_READY = 1;
export const Q_DESC_LO = 2;
export const Q_DESC_HI = 3;
export const Q_DRIVER_LO = 4;
export const Q_DRIVER_HI = 5;
export const Q_DEVICE_LO = 6;
export const Q_DEVICE_HI = 7;
export const Q_NEXT_AVAIL = 8;
export const Q_NEXT_USED = 9;
export const Q_MAX = 10;
const QUEUE_WORDS = 12;

export function queueBase(q: number): number {
  return HEADER_WORDS + q * QUEUE_WORDS;
}

/** Fresh (reset) transport state for queues of the given maximum sizes. */
export function createTransportState(queueMaxSizes: readonly number[]): SharedArrayBuffer {
  if (queueMaxSizes.length > 31) throw new RangeError('at most 31 queues per device');
  const sab = new SharedArrayBuffer((HEADER_WORDS + queueMaxSizes.length * QUEUE_WORDS) * 4);
  const s = new Int32Array(sab);
  s[W_QUEUE_COUNT] = queueMaxSizes.length;
  queueMaxSizes.forEach((max, q) => {
    s[queueBase(q) + Q_MAX] = max;
  });
  return sab;
}

/** Back to the power-on state (the lock word and queue limits stay). Lock held. */
export function resetTransportState(s: Int32Array): void {
  const queues = s[W_QUEUE_COUNT]!;
  const interrupts = Atomics.load(s, W_INTERRUPTS);
  for (let w = W_STATUS; w < HEADER_WORDS; w++) if (w !== W_QUEUE_COUNT) s[w] = 0;
  s[W_INTERRUPTS] = interrupts;
  for (let q = 0; q < queues; q++) {
    const b = queueBase(q);
    for (let w = 0; w < QUEUE_WORDS; w++) if (w !== Q_MAX) s[b + w] = 0;
  }
}

/** A 64-bit guest address from a low/high register pair, or NaN past 2^53. */
export function address(lo: number, hi: number): GuestPhysAddr {
  const h = hi >>> 0;
  return h >= 1 << 21 ? NaN : h * 2 ** 32 + (lo >>> 0);
}

/** How many queues the device whose transport state this is has. */
export function queueCount(transport: SharedArrayBuffer): number {
  return Atomics.load(new Int32Array(transport), W_QUEUE_COUNT);
}

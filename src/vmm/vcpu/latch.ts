// Watchpoint state shared by every vCPU worker through one SharedArrayBuffer:
// per-slot hit latches and the armed-slot set the workers (re)arm from.
import { hostWatchpoints } from '../arch.ts';
import type { HwWatch } from '../watchpoint-arch.ts';

export const WATCH_SLOTS = 4;
/** Slot 0 is the exit-kind watch's (a value the guest stores once, when it fails); 1..3 are user watchpoints. */
export const EXIT_KIND_SLOT = 0;

export interface ArmedSlot extends HwWatch {
  /**
   * Guest-physical address of the watched value, when `address` is a guest-virtual one (armed
   * at run time through the guest's page tables): slot 0 reads the exit kind there, others their value.
   */
  valueGpa?: bigint;
  /** A first latch of this slot freezes the VM (published with the slot: arming at run time). */
  freeze?: boolean;
  /** Latch only when the value written is at least this (the caller's rule, e.g. an error exit kind). */
  latchFrom?: bigint;
  /**
   * A write of this value ends the watch until the slot is armed anew: the object watched is
   * finished (a scheduler's exit kind going to DONE), and later writes there belong to whatever
   * reuses its memory before the owner disarms it.
   */
  endAt?: bigint;
}
export interface LatchHit {
  /** The vCPU whose exit latched the slot first. */
  vcpu: number;
  /** The watched value at its declared width (unsigned), read right after the write. */
  value: bigint;
}
export interface ArmedSet {
  generation: number;
  slots: (ArmedSlot | undefined)[];
}
export interface LatchOptions {
  /** Called once per slot, by whichever thread latched it first (it writes the eventfd). */
  onEdge?: (slot: number) => void;
}

// Int32 words: a header, then one 8-word record per slot.
const ANY_ARMED = 0;
const GENERATION = 1; // a seqlock: odd while a publisher is writing the slots
const SLOT_BASE = 4;
const SLOT_WORDS = 8;
const CLAIM = 0; // vcpu + 1 of the first latcher, 0 while free
const HIT = 1; // set after CLAIM and the value, so a reader seeing it sees both
const END = 2; // END_NONE, END_RULE or END_REACHED
const ARMED = 3; // 0 off, 1 on, 2 on with a kind GPA
const LEN = 4;
const ON = 5;
const FREEZE = 6;
const HAS_LATCH_FROM = 7;
const [END_NONE, END_RULE, END_REACHED] = [0, 1, 2];
const I32_BYTES = (SLOT_BASE + SLOT_WORDS * WATCH_SLOTS) * 4;
// Then five u64 per slot: watched address, value GPA, the value latched, latchFrom and endAt.
const U64_PER_SLOT = 5;
const U64_VALUE = 2;
const U64_LATCH_FROM = 3;
const U64_END_AT = 4;
const BYTES = I32_BYTES + WATCH_SLOTS * U64_PER_SLOT * 8;

const ON_CODES = ['write', 'readwrite'] as const;

export class WatchpointLatch {
  static readonly BYTES = BYTES;
  private readonly i32: Int32Array;
  private readonly u64: BigUint64Array;
  private readonly onEdge: (slot: number) => void;

  /** A view over `sab` (from create() in any thread); `onEdge` is this thread's own. */
  constructor(
    readonly sab: SharedArrayBuffer,
    options: LatchOptions = {},
  ) {
    if (!(sab instanceof SharedArrayBuffer) || sab.byteLength < BYTES) {
      throw new TypeError(`WatchpointLatch needs a SharedArrayBuffer of at least ${BYTES} bytes`);
    }
    this.i32 = new Int32Array(sab, 0, I32_BYTES / 4);
    this.u64 = new BigUint64Array(sab, I32_BYTES, WATCH_SLOTS * U64_PER_SLOT);
    this.onEdge = options.onEdge ?? (() => {});
  }

  static create(options?: LatchOptions): WatchpointLatch {
    return new WatchpointLatch(new SharedArrayBuffer(BYTES), options);
  }

  /**
   * Latches `slot` for `vcpu`. Only the first latch of a slot, across all threads,
   * returns true and fires the edge. Out-of-range slots are ignored.
   */
  latch(slot: number, vcpu: number, value = 0n): boolean {
    if (!Number.isInteger(slot) || slot < 0 || slot >= WATCH_SLOTS) return false;
    if (!Number.isInteger(vcpu) || vcpu < 0 || vcpu >= 0x7fff_ffff) throw new RangeError(`bad vCPU index ${vcpu}`);
    const at = SLOT_BASE + slot * SLOT_WORDS;
    if (Atomics.compareExchange(this.i32, at + CLAIM, 0, vcpu + 1) !== 0) return false;
    Atomics.store(this.u64, slot * U64_PER_SLOT + U64_VALUE, BigInt.asUintN(64, value));
    Atomics.store(this.i32, at + HIT, 1);
    this.onEdge(slot);
    return true;
  }

  /** Latches `slot` with the value written, unless the slot's rules (latchFrom, endAt) say it is not a hit. */
  offer(slot: number, vcpu: number, value: bigint, rule: Pick<ArmedSlot, 'latchFrom' | 'endAt'> = {}): boolean {
    if (rule.endAt !== undefined) {
      const at = SLOT_BASE + slot * SLOT_WORDS + END;
      if (Atomics.load(this.i32, at) === END_REACHED) return false;
      if (value === rule.endAt) {
        Atomics.compareExchange(this.i32, at, END_RULE, END_REACHED);
        return false;
      }
    }
    return (rule.latchFrom === undefined || value >= rule.latchFrom) && this.latch(slot, vcpu, value);
  }

  hit(slot: number): LatchHit | undefined {
    if (!Number.isInteger(slot) || slot < 0 || slot >= WATCH_SLOTS) return undefined;
    const at = SLOT_BASE + slot * SLOT_WORDS;
    if (Atomics.load(this.i32, at + HIT) === 0) return undefined;
    const vcpu = Atomics.load(this.i32, at + CLAIM) - 1;
    return { vcpu, value: Atomics.load(this.u64, slot * U64_PER_SLOT + U64_VALUE) };
  }

  hitSlots(): number[] {
    const out: number[] = [];
    for (let s = 0; s < WATCH_SLOTS; s++) if (this.hit(s)) out.push(s);
    return out;
  }

  /** False until the first publish: the arming path stays idle before then. */
  get anyArmed(): boolean {
    return Atomics.load(this.i32, ANY_ARMED) !== 0;
  }

  /** Changes on every publish; a worker re-arms when it differs from the one it armed. */
  get generation(): number {
    return Atomics.load(this.i32, GENERATION);
  }

  /** Replaces the armed set (undefined slots disarm) and returns the new generation. */
  publish(slots: readonly (ArmedSlot | undefined)[]): number {
    if (slots.length > WATCH_SLOTS) throw new RangeError(`${WATCH_SLOTS} watch slots, got ${slots.length}`);
    const arch = hostWatchpoints();
    slots.forEach((w, i) => {
      if (!w) return;
      arch.checkWatch(w, i);
      if (!ON_CODES.includes(w.on)) throw new RangeError(`watch slot ${i}: mode '${String(w.on)}' is not 'write' or 'readwrite'`);
    });
    let g: number;
    // Take the seqlock: wait out a concurrent publisher, then make the generation odd.
    do g = Atomics.load(this.i32, GENERATION);
    while (g & 1 || Atomics.compareExchange(this.i32, GENERATION, g, (g + 1) | 0) !== g);
    for (let i = 0; i < WATCH_SLOTS; i++) {
      const w = slots[i];
      const at = SLOT_BASE + i * SLOT_WORDS;
      // A watch with an end rule that stays armed where it was (other slots re-published) keeps
      // its END word untouched: a vCPU may be ending it right now (its compareExchange), and a
      // store here would undo that.
      const kept = w?.endAt !== undefined && Atomics.load(this.i32, at + ARMED) !== 0 && Atomics.load(this.i32, at + END) !== END_NONE && Atomics.load(this.u64, i * U64_PER_SLOT) === w.address;
      if (!kept) Atomics.store(this.i32, at + END, w?.endAt === undefined ? END_NONE : END_RULE);
      Atomics.store(this.u64, i * U64_PER_SLOT + U64_END_AT, w?.endAt ?? 0n);
      Atomics.store(this.i32, at + ARMED, w ? (w.valueGpa === undefined ? 1 : 2) : 0);
      Atomics.store(this.i32, at + LEN, w?.len ?? 0);
      Atomics.store(this.i32, at + ON, w ? ON_CODES.indexOf(w.on) : 0);
      Atomics.store(this.i32, at + FREEZE, w?.freeze ? 1 : 0);
      Atomics.store(this.i32, at + HAS_LATCH_FROM, w?.latchFrom !== undefined ? 1 : 0);
      Atomics.store(this.u64, i * U64_PER_SLOT + U64_LATCH_FROM, w?.latchFrom ?? 0n);
      Atomics.store(this.u64, i * U64_PER_SLOT, w?.address ?? 0n);
      Atomics.store(this.u64, i * U64_PER_SLOT + 1, w?.valueGpa ?? 0n);
    }
    Atomics.store(this.i32, ANY_ARMED, 1);
    const next = (g + 2) | 0;
    Atomics.store(this.i32, GENERATION, next);
    return next;
  }

  /** A consistent copy of the armed set; spins only while a publish is mid-write. */
  readArmed(): ArmedSet {
    for (;;) {
      const generation = Atomics.load(this.i32, GENERATION);
      if (generation & 1) continue;
      const slots: (ArmedSlot | undefined)[] = [];
      for (let i = 0; i < WATCH_SLOTS; i++) {
        const at = SLOT_BASE + i * SLOT_WORDS;
        const armed = Atomics.load(this.i32, at + ARMED);
        if (armed === 0) {
          slots.push(undefined);
          continue;
        }
        const slot: ArmedSlot = {
          address: Atomics.load(this.u64, i * U64_PER_SLOT),
          len: Atomics.load(this.i32, at + LEN) as ArmedSlot['len'],
          on: ON_CODES[Atomics.load(this.i32, at + ON)] ?? 'write',
        };
        if (armed === 2) slot.valueGpa = Atomics.load(this.u64, i * U64_PER_SLOT + 1);
        if (Atomics.load(this.i32, at + FREEZE) === 1) slot.freeze = true;
        if (Atomics.load(this.i32, at + HAS_LATCH_FROM) === 1) slot.latchFrom = Atomics.load(this.u64, i * U64_PER_SLOT + U64_LATCH_FROM);
        if (Atomics.load(this.i32, at + END) !== END_NONE) slot.endAt = Atomics.load(this.u64, i * U64_PER_SLOT + U64_END_AT);
        slots.push(slot);
      }
      if (Atomics.load(this.i32, GENERATION) === generation) return { generation, slots };
    }
  }
}

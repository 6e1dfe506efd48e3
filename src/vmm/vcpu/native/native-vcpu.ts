// vCPU threads without a JavaScript runtime. Each is vcpu-loop.x86_64.S on a plain pthread: it
// runs KVM_RUN and hands every return to an exit thread, which decodes and serves the exit
// (the same JavaScript as ever) for many vCPUs. A node worker per vCPU holds about 11 MiB (a
// V8 isolate); one of these holds its stack's touched pages.
import { VmmError } from '../../errors.ts';
import { errno, futexWait, futexWake, hostView, OsError, MAP_ANONYMOUS, MAP_FAILED, MAP_PRIVATE, mmap, mprotect, PROT_EXEC, PROT_READ, PROT_WRITE, startNativeThread } from '../../sys/libc.ts';
import { VCPU_LOOP_X86_64 } from './vcpu-loop.x86_64.ts';

// The control block's int32 words (vcpu-loop.x86_64.S names them the same).
const STATE = 0;
const FD = 1;
const RESULT = 2;
const TID = 3;
const DOORBELL_U64 = 2; // a u64 (byte 16)
const SPIN = 6;
const ASLEEP = 7;
// Doorbell words.
const RING = 0;
const RING_ASLEEP = 1;

enum NativeState {
  Run = 1,
  /** The exit thread holds the vCPU: between KVM_RUNs, and before the first. */
  Held = 2,
  Stop = 3,
  Gone = 4,
}

/** A cell per block: one cache line, so two threads' words never share one. */
const CELL = 64;
const CHUNK = 64 * 1024;
const PAGE = 4096;
/** The thread's stack. Signal frames (a kick's SIGUSR2 runs node's handler here) need a few KiB. */
const STACK_BYTES = 256 * 1024;
/** pause iterations a vCPU thread spins for its next order before sleeping. */
const VCPU_SPIN = 2000;
/** How long the exit thread spins on its doorbell before sleeping (one exit's round trip is ~10 µs). */
export const DOORBELL_SPIN_US = 50;
const START_TIMEOUT_MS = 10_000;

interface Cell {
  addr: bigint;
  words: Int32Array;
}

// Cells are never unmapped: a thread still touches its doorbell after saying Gone, and a
// detached thread's last instructions run after that. Freed cells are reused instead, a
// doorbell only as a doorbell: a late ring then costs a spurious wake, where on a control block
// it would move that block's STATE.
const freeCells: Cell[] = [];
const freeBells: Cell[] = [];
let code: bigint | undefined;

function takeCell(free: Cell[] = freeCells): Cell {
  // A pool with nothing to reuse takes a fresh cell, carved with its neighbours from a new chunk.
  if (free.length === 0 && freeCells.length === 0) {
    const chunk = mmap(null, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (chunk === MAP_FAILED) throw new OsError('mmap of native vCPU control blocks', errno());
    for (let off = CHUNK - CELL; off >= 0; off -= CELL) {
      const addr = chunk + BigInt(off);
      freeCells.push({ addr, words: new Int32Array(hostView(addr, CELL)) });
    }
  }
  const cell = (free.length > 0 ? free : freeCells).pop()!;
  cell.words.fill(0);
  return cell;
}

function loopCode(): bigint {
  if (process.arch !== 'x64') throw new VmmError('VMM_NATIVE_THREAD', `native vCPU threads exist for x86_64 hosts only, not ${process.arch}`);
  if (code !== undefined) return code;
  const bytes = Buffer.from(VCPU_LOOP_X86_64, 'hex');
  const page = mmap(null, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page === MAP_FAILED) throw new OsError('mmap of the native vCPU loop', errno());
  new Uint8Array(hostView(page, PAGE)).set(bytes);
  if (mprotect(page, PAGE, PROT_READ | PROT_EXEC) !== 0) throw new OsError('mprotect of the native vCPU loop', errno());
  code = page;
  return page;
}

/** Where native vCPU threads tell their exit thread they posted something (an exit, their tid, their end). */
export class Doorbell {
  private readonly cell = takeCell(freeBells);
  private seen = 0;
  private released = false;

  get addr(): bigint {
    return this.cell.addr;
  }

  /** Returns once something was posted since the last call, or after `timeoutMs`; spins `spinUs` first. */
  wait(timeoutMs: number, spinUs = DOORBELL_SPIN_US): boolean {
    const w = this.cell.words;
    const spinUntil = performance.now() + spinUs / 1000;
    let ring = Atomics.load(w, RING);
    while (ring === this.seen && performance.now() < spinUntil) ring = Atomics.load(w, RING);
    if (ring === this.seen && timeoutMs > 0) {
      Atomics.store(w, RING_ASLEEP, 1); // seq-cst: the re-read below cannot pass it
      ring = Atomics.load(w, RING);
      if (ring === this.seen) futexWait(this.cell.addr, ring, timeoutMs);
      Atomics.store(w, RING_ASLEEP, 0);
      ring = Atomics.load(w, RING);
    }
    const rang = ring !== this.seen;
    this.seen = ring;
    return rang;
  }

  /** Rings from another JavaScript thread (a kill, a thaw), waking the exit thread. */
  ring(): void {
    Atomics.add(this.cell.words, RING, 1);
    if (Atomics.load(this.cell.words, RING_ASLEEP) !== 0) futexWake(this.cell.addr);
  }

  /** Returns the cell for reuse once no thread rings it (every vCPU thread on it is gone). */
  release(): void {
    if (this.released) return;
    this.released = true;
    freeBells.push(this.cell);
  }
}

/** One vCPU's native thread, driven by the exit thread that owns `doorbell`. */
export class NativeVcpu {
  private inGuest = false;
  private released = false;

  private constructor(
    private readonly cell: Cell,
    readonly tid: number,
  ) {}

  /** Starts the thread for vCPU fd `fd`, held until enter(); blocks until it reported its tid. `spin`: pause iterations before it sleeps for an order (0 on one CPU). */
  static start(fd: number, doorbell: Doorbell, spin = VCPU_SPIN): NativeVcpu {
    const cell = takeCell();
    const w = cell.words;
    w[STATE] = NativeState.Held;
    w[FD] = fd;
    w[SPIN] = spin;
    new BigUint64Array(w.buffer, w.byteOffset, CELL / 8)[DOORBELL_U64] = doorbell.addr;
    try {
      startNativeThread(loopCode(), cell.addr, STACK_BYTES);
    } catch (e) {
      freeCells.push(cell);
      throw e;
    }
    const deadline = performance.now() + START_TIMEOUT_MS;
    while (Atomics.load(w, TID) === 0) {
      // Nothing else rings a fresh doorbell's owner here, so a timeout means the thread never ran.
      if (performance.now() > deadline) throw new VmmError('VMM_NATIVE_THREAD', `native vCPU thread for fd ${fd} did not start in ${START_TIMEOUT_MS} ms`);
      doorbell.wait(100);
    }
    return new NativeVcpu(cell, Atomics.load(w, TID));
  }

  /** Lets the thread run KVM_RUN once. */
  enter(): void {
    this.inGuest = true;
    this.order(NativeState.Run);
  }

  /** KVM_RUN's outcome once it returned since enter(): 0, or its errno (EINTR after a kick); else undefined. */
  takeExit(): number | undefined {
    if (!this.inGuest || Atomics.load(this.cell.words, STATE) !== NativeState.Held) return undefined;
    this.inGuest = false;
    const r = this.cell.words[RESULT]!;
    return r < 0 ? -r : 0;
  }

  /** The thread is inside (or about to enter) KVM_RUN. */
  get running(): boolean {
    return this.inGuest;
  }

  /** Tells a held thread to end; gone turns true once it no longer touches its block. */
  stop(): void {
    if (this.inGuest) throw new VmmError('VMM_NATIVE_THREAD', 'stop() while the vCPU is in KVM_RUN: kick it out and take its exit first');
    this.order(NativeState.Stop);
  }

  get gone(): boolean {
    return Atomics.load(this.cell.words, STATE) === NativeState.Gone;
  }

  /** Returns the block for reuse; only once gone. */
  release(): void {
    if (this.released || !this.gone) return;
    this.released = true;
    freeCells.push(this.cell);
  }

  private order(state: NativeState): void {
    const w = this.cell.words;
    Atomics.store(w, STATE, state);
    if (Atomics.load(w, ASLEEP) !== 0) futexWake(this.cell.addr);
  }
}

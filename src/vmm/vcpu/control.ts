// State shared by the VMM thread and every vCPU worker, in one SharedArrayBuffer.
export enum VcpuState {
  Created = 0,
  Running = 1,
  /** The VMM is writing immediate_exit / signalling: the worker must not unmap kvm_run yet. */
  Kicking = 2,
  Done = 3,
}

export enum ActionCode {
  None = 0,
  Shutdown = 1,
  Fatal = 2,
}

const KILL = 0;
const FREEZE = 1;
const START = 2;
const ACTION = 3;
const ACTION_VCPU = 4;
const FATAL_KIND = 5; // a FatalKind
const FATAL_DETAIL = 10; // BigInt64 at words 10..11
const SNAPSHOT_ON_EXIT = 7;
const VCPU_COUNT = 8;
const VCPU_BASE = 16;
const VCPU_WORDS = 4; // state, exits, parked, reserved
// Then, 8-byte aligned, per vCPU: snapshot sequence, rip, rsp, cr3.
const SNAP_WORDS = 4;

/** Why a vCPU ended the VM as Fatal; the action's detail word says more. */
export enum FatalKind {
  None = 0,
  /** KVM_EXIT_FAIL_ENTRY; detail: the hardware entry failure reason. */
  FailEntry = 1,
  /** KVM_EXIT_INTERNAL_ERROR; detail: the suberror. */
  InternalError = 2,
  /** KVM_RUN failed with an errno other than EINTR/EAGAIN; detail: the errno. */
  RunErrno = 3,
  /** An exit reason this VMM does not know; detail: the reason. */
  UnknownExit = 4,
}

export class VmControl {
  readonly words: Int32Array;
  private readonly detail: BigInt64Array;
  private readonly snaps: BigUint64Array;

  constructor(readonly sab: SharedArrayBuffer) {
    this.words = new Int32Array(sab);
    this.detail = new BigInt64Array(sab, 0, 8);
    this.snaps = new BigUint64Array(sab);
  }

  private snapBase(): number {
    return Math.ceil(((VCPU_BASE + this.vcpuCount * VCPU_WORDS) * 4) / 8);
  }
  private get vcpuCount(): number {
    return this.words[VCPU_COUNT]!;
  }

  static create(vcpus: number): VmControl {
    const wordsBytes = Math.ceil(((VCPU_BASE + vcpus * VCPU_WORDS) * 4) / 8) * 8;
    const sab = new SharedArrayBuffer(wordsBytes + vcpus * SNAP_WORDS * 8);
    new Int32Array(sab)[VCPU_COUNT] = vcpus;
    return new VmControl(sab);
  }

  // --- freeze / thaw -------------------------------------------------------------------
  requestFreeze(): void {
    Atomics.store(this.words, FREEZE, 1);
  }
  clearFreeze(): void {
    Atomics.store(this.words, FREEZE, 0);
  }
  parked(vcpu: number): boolean {
    return Atomics.load(this.words, this.slot(vcpu, 2)) !== 0;
  }
  setParked(vcpu: number, parked: boolean): void {
    Atomics.store(this.words, this.slot(vcpu, 2), parked ? 1 : 0);
  }
  /** Asks every vCPU to record its registers as it leaves its loop (Fatal exits). */
  requestSnapshotOnExit(): void {
    Atomics.store(this.words, SNAPSHOT_ON_EXIT, 1);
  }
  get snapshotOnExit(): boolean {
    return Atomics.load(this.words, SNAPSHOT_ON_EXIT) !== 0;
  }
  /** Stores a vCPU's registers; the sequence number tells readers a new one arrived. */
  storeSnapshot(vcpu: number, rip: bigint, rsp: bigint, cr3: bigint): void {
    const base = this.snapBase() + vcpu * SNAP_WORDS;
    const a = this.snaps;
    a[base + 1] = rip;
    a[base + 2] = rsp;
    a[base + 3] = cr3;
    Atomics.add(a, base, 1n);
  }
  snapshot(vcpu: number): { seq: bigint; rip: bigint; rsp: bigint; cr3: bigint } {
    const base = this.snapBase() + vcpu * SNAP_WORDS;
    const a = this.snaps;
    return { seq: Atomics.load(a, base), rip: a[base + 1]!, rsp: a[base + 2]!, cr3: a[base + 3]! };
  }

  get killed(): boolean {
    return Atomics.load(this.words, KILL) !== 0;
  }
  kill(): void {
    Atomics.store(this.words, KILL, 1);
    Atomics.notify(this.words, START); // wake workers still waiting to start
  }

  get freezeRequested(): boolean {
    return Atomics.load(this.words, FREEZE) !== 0;
  }

  start(): void {
    Atomics.store(this.words, START, 1);
    Atomics.notify(this.words, START);
  }
  /** Blocks a worker until start() or kill(). */
  waitForStart(): void {
    while (Atomics.load(this.words, START) === 0 && !this.killed) Atomics.wait(this.words, START, 0, 100);
  }

  /** Records the VM's exit action; the first vCPU to report wins. */
  recordAction(vcpu: number, code: ActionCode, fatalKind = 0, detail = 0n): boolean {
    if (Atomics.compareExchange(this.words, ACTION, ActionCode.None, code) !== ActionCode.None) return false;
    this.words[ACTION_VCPU] = vcpu;
    this.words[FATAL_KIND] = fatalKind;
    this.detail[FATAL_DETAIL / 2] = detail;
    return true;
  }
  get action(): { code: ActionCode; vcpu: number; fatalKind: number; detail: bigint } {
    return {
      code: Atomics.load(this.words, ACTION) as ActionCode,
      vcpu: this.words[ACTION_VCPU]!,
      fatalKind: this.words[FATAL_KIND]!,
      detail: this.detail[FATAL_DETAIL / 2]!,
    };
  }

  private slot(vcpu: number, word: number): number {
    return VCPU_BASE + vcpu * VCPU_WORDS + word;
  }
  state(vcpu: number): VcpuState {
    return Atomics.load(this.words, this.slot(vcpu, 0)) as VcpuState;
  }
  setRunning(vcpu: number): void {
    Atomics.store(this.words, this.slot(vcpu, 0), VcpuState.Running);
  }
  /** VMM side: claims the vCPU for a kick; false when it is not running (done, or not yet mapped). */
  beginKick(vcpu: number): boolean {
    return Atomics.compareExchange(this.words, this.slot(vcpu, 0), VcpuState.Running, VcpuState.Kicking) === VcpuState.Running;
  }
  endKick(vcpu: number): void {
    const i = this.slot(vcpu, 0);
    Atomics.store(this.words, i, VcpuState.Running);
    Atomics.notify(this.words, i);
  }
  /** Worker side: marks the vCPU done, waiting out a kick in progress. */
  setDone(vcpu: number): void {
    const i = this.slot(vcpu, 0);
    for (;;) {
      const prev = Atomics.compareExchange(this.words, i, VcpuState.Running, VcpuState.Done);
      if (prev !== VcpuState.Kicking) break;
      Atomics.wait(this.words, i, VcpuState.Kicking, 5);
    }
    Atomics.store(this.words, i, VcpuState.Done);
  }
  countExit(vcpu: number): void {
    const i = this.slot(vcpu, 1);
    this.words[i] = (this.words[i]! + 1) | 0;
  }
  exits(vcpu: number): number {
    return Atomics.load(this.words, this.slot(vcpu, 1)) >>> 0;
  }
}

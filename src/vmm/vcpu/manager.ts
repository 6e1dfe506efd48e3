// A VM's vCPU threads from the VMM's side: spawning their workers and speaking their protocol,
// kicking them out of KVM_RUN, killing them, and freeze/thaw with the register snapshots a
// freeze records.
import type { EventFds } from '../event-fds.ts';
import type { SnapshotRecord, VcpuResult } from '../result.ts';
import { hostView, SIGUSR2, tgkill } from '../sys/libc.ts';
import { kvmRun } from '../sys/kvm-abi.ts';
import { VcpuState, type VmControl } from './control.ts';
import { startVcpuThread } from './pool.ts';
import type { VcpuThreadStats, VcpuWorkerInit, VcpuWorkerMessage } from './protocol.ts';
import { formatSnapshot, snapshotToHex, type VcpuRegSnapshot } from './snapshot.ts';
import { VmmError } from '../errors.ts';

const KICK_INTERVAL_MS = 20;
const PARK_POLL_MS = 2;
/** How long a freeze waits for every vCPU to park before giving up on the stragglers. */
export const PARK_TIMEOUT_MS = 5000;

let kickHandlerInstalled = false;
function installKickHandler(): void {
  // SIGUSR2 only has to interrupt KVM_RUN on a vCPU thread; without a handler it would kill us.
  if (kickHandlerInstalled) return;
  kickHandlerInstalled = true;
  process.on('SIGUSR2', () => {});
}

interface VcpuHandle {
  tid?: number;
  immediateExit?: Uint8Array;
  stats?: VcpuThreadStats;
  failure?: string;
  done: Promise<void>;
}

export interface VcpuManagerOptions {
  control: VmControl;
  fds: EventFds;
  count: number;
  /** Each vCPU's worker init. */
  initFor(index: number): VcpuWorkerInit;
  /** A vCPU latched a watch slot that freezes the VM. */
  onFreezeRequest(slot: number): void;
}

export class VcpuManager {
  private readonly handles: VcpuHandle[] = [];
  private readonly snapshotLog: SnapshotRecord[] = [];
  private readonly snapshotSeq: bigint[];
  private freezeChain: Promise<unknown> = Promise.resolve();
  private readonly control: VmControl;
  private readonly fds: EventFds;

  private constructor(o: VcpuManagerOptions) {
    this.control = o.control;
    this.fds = o.fds;
    this.snapshotSeq = new Array<bigint>(o.count).fill(0n);
  }

  /** Starts every vCPU's thread (parked until start()); resolves once all are ready. */
  static async spawn(o: VcpuManagerOptions): Promise<VcpuManager> {
    installKickHandler();
    const m = new VcpuManager(o);
    const ready = Array.from({ length: o.count }, (_, index) => m.spawnOne(index, o));
    try {
      await Promise.all(ready);
    } catch (e) {
      await m.stop();
      throw e;
    }
    return m;
  }

  private spawnOne(index: number, o: VcpuManagerOptions): Promise<void> {
    const run = startVcpuThread(o.initFor(index));
    let markDone!: () => void;
    const handle: VcpuHandle = { done: new Promise<void>((resolve) => (markDone = resolve)) };
    this.handles.push(handle);
    return new Promise<void>((markReady, markFailed) => {
      let finished = false;
      const finish = () => {
        finished = true;
        run.port.close();
        markDone();
      };
      run.port.on('message', (m: VcpuWorkerMessage) => {
        if (m.type === 'ready') {
          handle.tid = m.tid;
          handle.immediateExit = new Uint8Array(hostView(m.runAddr, m.runSize), kvmRun.immediate_exit, 1);
          markReady();
        } else if (m.type === 'failed') {
          handle.failure = m.message;
          markFailed(new VmmError('VMM_VCPU_START', `vCPU ${index}: ${m.message}`));
        } else if (m.type === 'freeze-request') {
          o.onFreezeRequest(m.slot);
        } else {
          if (m.stats) handle.stats = m.stats;
          this.kill(); // one vCPU leaving ends the VM
          finish();
        }
      });
      // The thread died before its task's 'done' (a pool torn down after 'done' is no failure:
      // by then this VM's fds may be closed, and their numbers reused).
      run.finished.catch((e: Error) => {
        if (finished) return;
        handle.failure ??= e.message;
        markFailed(new VmmError('VMM_VCPU_START', `vCPU ${index} thread: ${e.message}`, { cause: e }));
        this.kill();
        finish();
      });
    });
  }

  /** Lets the parked vCPUs enter the guest. */
  start(): void {
    this.control.start();
  }

  /** Ends the VM: every vCPU thread sees the kill flag, parked ones through the kill eventfd. */
  kill(): void {
    this.control.kill();
    this.fds.signal(this.fds.kill);
    this.kick();
  }

  /** Interrupts every vCPU thread's KVM_RUN (immediate_exit + SIGUSR2) so it re-checks its flags. */
  kick(): void {
    this.handles.forEach((h, i) => {
      if (h.tid === undefined || !h.immediateExit) return;
      if (!this.control.beginKick(i)) return;
      h.immediateExit[0] = 1;
      tgkill(process.pid, h.tid, SIGUSR2);
      this.control.endKick(i);
    });
  }

  /** Every thread has left its loop. */
  get allDone(): boolean {
    return this.handles.every((_, i) => this.control.state(i) === VcpuState.Done);
  }

  /** Every vCPU is parked (or done): nothing is inside KVM_RUN. */
  get allParked(): boolean {
    return this.handles.every((_, i) => this.control.state(i) === VcpuState.Done || this.control.parked(i));
  }

  /** Resolves once every thread has finished, re-killing meanwhile once the VM is killed (a kick can land just before KVM_RUN). */
  async whenDone(): Promise<void> {
    let kicker: NodeJS.Timeout | undefined;
    const watch = setInterval(() => {
      if (this.control.killed && !kicker) kicker = setInterval(() => this.kill(), KICK_INTERVAL_MS);
    }, KICK_INTERVAL_MS);
    try {
      await Promise.all(this.handles.map((h) => h.done));
    } finally {
      clearInterval(watch);
      if (kicker) clearInterval(kicker);
    }
    await this.freezeChain;
  }

  /** Kills the VM and waits for every thread to finish. */
  async stop(): Promise<void> {
    this.control.kill();
    const kicker = setInterval(() => this.kill(), KICK_INTERVAL_MS);
    this.kill();
    await Promise.all(this.handles.map((h) => h.done));
    clearInterval(kicker);
  }

  /**
   * Parks every vCPU and records its registers (trigger names why). Resolves with one snapshot
   * per vCPU that parked; the VM stays frozen until thaw() or its end.
   */
  freeze(trigger: string, keep = true): Promise<SnapshotRecord[]> {
    const run = async (): Promise<SnapshotRecord[]> => {
      if (this.fds.closed || this.control.killed) return [];
      this.fds.drain(this.fds.thaw); // a stale thaw edge would spin the parked vCPUs
      this.fds.drain(this.fds.parked);
      this.control.requestFreeze();
      this.kick();
      const deadline = performance.now() + PARK_TIMEOUT_MS;
      while (!this.allParked && !this.control.killed && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, PARK_POLL_MS));
        if (!this.allParked) this.kick(); // a kick can land just before KVM_RUN: repeat it
      }
      return this.collectSnapshots(trigger, keep);
    };
    const result = this.freezeChain.then(run, run);
    this.freezeChain = result.catch(() => undefined);
    return result;
  }

  /** Lets frozen vCPUs resume where they were. */
  thaw(): void {
    this.control.clearFreeze();
    this.fds.signal(this.fds.thaw);
  }

  /** Snapshots stored since the last collection, tagged with `trigger` (and kept, unless a peek). */
  collectSnapshots(trigger: string, keep = true): SnapshotRecord[] {
    const out: SnapshotRecord[] = [];
    this.snapshotSeq.forEach((seen, vcpu) => {
      const s = this.control.snapshot(vcpu);
      if (s.seq === seen) return;
      this.snapshotSeq[vcpu] = s.seq;
      const regs: VcpuRegSnapshot = { instruction_pointer: s.rip, stack_pointer: s.rsp, page_table_root: s.cr3 };
      out.push({ vcpu, trigger, ...snapshotToHex(regs), text: formatSnapshot(regs) });
    });
    if (keep) this.snapshotLog.push(...out);
    return out;
  }

  get snapshots(): SnapshotRecord[] {
    return [...this.snapshotLog];
  }

  /** vCPU `index`'s thread id, once its thread is up. */
  threadId(index: number): number | undefined {
    return this.handles[index]?.tid;
  }

  /** The first thread failure (a vCPU that could not start or died), if any. */
  get failure(): string | undefined {
    return this.handles.find((h) => h.failure)?.failure;
  }

  results(): VcpuResult[] {
    return this.handles.map((h, index) => {
      const cpu = h.stats?.cpu;
      return {
        index,
        exits: this.control.exits(index),
        exitsByReason: { ...h.stats?.byReason },
        ...(cpu ? { cpuMs: { guest: cpu.guestMs, vmm: Math.max(0, cpu.totalMs - cpu.guestMs) } } : {}),
      };
    });
  }
}

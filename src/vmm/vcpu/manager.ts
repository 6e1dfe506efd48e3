// A VM's vCPU threads from the VMM's side: starting them (a worker, native threads) and speaking their protocol,
// kicking them out of KVM_RUN, killing them, and freeze/thaw with the register snapshots a
// freeze records.
import type { EventFds } from '../event-fds.ts';
import type { SnapshotRecord, VcpuResult } from '../result.ts';
import { hostView, SIGUSR2, tgkill } from '../sys/libc.ts';
import { kvmRun } from '../sys/kvm-abi.ts';
import { VcpuState, type VmControl } from './control.ts';
import { startNativeVcpus, startVcpuThread, type VcpuRun } from './pool.ts';
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
  markDone: () => void;
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

  /**
   * Starts every vCPU (parked until start()); resolves once all are ready. vCPU 0, the boot CPU
   * (firmware, boot console: most of a guest's exits), gets a thread of its own; the others run
   * on native threads served by one exit thread (group.ts), a few KiB each instead of a V8 isolate,
   * unless there is only one other.
   */
  static async spawn(o: VcpuManagerOptions): Promise<VcpuManager> {
    installKickHandler();
    const m = new VcpuManager(o);
    for (let i = 0; i < o.count; i++) {
      let markDone!: () => void;
      m.handles.push({ done: new Promise<void>((resolve) => (markDone = resolve)), markDone });
    }
    const rest = Array.from({ length: o.count - 1 }, (_, i) => i + 1);
    // A lone other vCPU takes the thread its exit thread would have: on it, it serves its own
    // exits, with no handoff (on one CPU each handoff is two context switches).
    const ready = [m.serve(startVcpuThread(o.initFor(0)), [0], o)];
    if (rest.length === 1) ready.push(m.serve(startVcpuThread(o.initFor(1)), rest, o));
    else if (rest.length > 1) ready.push(m.serve(startNativeVcpus(rest.map((i) => o.initFor(i))), rest, o));
    try {
      await Promise.all(ready.flat());
    } catch (e) {
      await m.stop();
      throw e;
    }
    return m;
  }

  /** Speaks the protocol of one pool task that runs vCPUs `indices`; one promise per vCPU, settled when it is ready. */
  private serve(run: VcpuRun, indices: number[], o: VcpuManagerOptions): Promise<void>[] {
    const open = new Set(indices);
    const settle = new Map<number, { ready: () => void; failed: (e: Error) => void }>();
    const ready = indices.map((i) => new Promise<void>((ready, failed) => settle.set(i, { ready, failed })));
    const finish = (index: number) => {
      if (!open.delete(index)) return;
      this.handles[index]!.markDone();
      if (open.size === 0) run.port.close();
    };
    run.port.on('message', (m: VcpuWorkerMessage) => {
      const handle = this.handles[m.index]!;
      if (m.type === 'ready') {
        handle.tid = m.tid;
        handle.immediateExit = new Uint8Array(hostView(m.runAddr, m.runSize), kvmRun.immediate_exit, 1);
        settle.get(m.index)!.ready();
      } else if (m.type === 'failed') {
        handle.failure = m.message;
        settle.get(m.index)!.failed(new VmmError('VMM_VCPU_START', `vCPU ${m.index}: ${m.message}`));
        this.kill();
        finish(m.index); // a vCPU that never started sends nothing more
      } else if (m.type === 'freeze-request') {
        o.onFreezeRequest(m.slot);
      } else {
        if (m.stats) handle.stats = m.stats;
        this.kill(); // one vCPU leaving ends the VM
        finish(m.index);
      }
    });
    // The thread died before its task's every 'done' (a pool torn down after them is no failure:
    // by then this VM's fds may be closed, and their numbers reused).
    run.finished.catch((e: Error) => {
      if (open.size === 0) return;
      this.kill();
      for (const index of [...open]) {
        this.handles[index]!.failure ??= e.message;
        settle.get(index)!.failed(new VmmError('VMM_VCPU_START', `vCPU ${index} thread: ${e.message}`, { cause: e }));
        finish(index);
      }
    });
    return ready;
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

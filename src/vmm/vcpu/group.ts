// The exit thread of native vCPU threads: one pooled worker serves the exits of many vCPUs,
// each running KVM_RUN on a plain pthread (native/native-vcpu.ts), so a vCPU costs a stack and a
// control block instead of a V8 isolate (about 11 MiB). Each exit is served by the same code as
// on a vCPU's own thread (serveExit); a freeze or a kill holds every vCPU here, between two
// KVM_RUNs, as a vCPU's own thread would hold itself.
import { availableParallelism } from 'node:os';
import type { VcpuFd } from '../kvm.ts';
import { SIGUSR2, tgkill } from '../sys/libc.ts';
import { cpuSince, taskCpu, threadCpu, type ThreadCpu } from '../sys/thread-cpu.ts';
import type { VmControl } from './control.ts';
import { captureRegs, type ParkOptions, parkFrozen } from './debug-plane.ts';
import { DOORBELL_SPIN_US, Doorbell, NativeVcpu } from './native/native-vcpu.ts';
import type { VcpuWorkerInit, VcpuWorkerMessage } from './protocol.ts';
import { type RunLoopContext, type RunLoopStats, serveExit } from './run-loop.ts';
import { abandonVcpu, setUpOrReport, threadBus } from './vcpu-context.ts';

/** How long the exit thread sleeps on its doorbell before looking at the VM's flags anyway. */
const WAIT_MS = 100;

interface Member {
  index: number;
  vcpu: VcpuFd;
  nv: NativeVcpu;
  run: RunLoopContext;
  stats: RunLoopStats;
  /** Served its last exit (the VM ended, or was killed). */
  left: boolean;
  /** Kicked since it last entered the guest. */
  kicked: boolean;
  cpuAtStart?: ThreadCpu;
  cpu?: ThreadCpu;
}

/**
 * Creates, runs and serves vCPUs `inits` (one VM's) on native threads until the VM ends; posts
 * each vCPU's ready (or failed) and, as it ends, its done. Spinning waits only pay where another
 * CPU runs the other side; on one CPU they would hold it from the thread they wait for.
 */
export function driveNativeVcpus(inits: readonly VcpuWorkerInit[], post: (m: VcpuWorkerMessage) => void): void {
  const shared = threadBus(inits[0]!);
  const { control } = shared;
  const spinning = availableParallelism() > 1;
  const bell = new Doorbell();
  const members: Member[] = [];
  const started: number[] = [];
  try {
    for (const init of inits) {
      const m = startMember(init, shared, bell, spinning, post);
      if (m) members.push(m);
      started.push(init.index);
    }
    control.waitForStart();
    const own = threadCpu();
    for (const m of members) m.cpuAtStart = taskCpu(m.nv.tid);
    serve(members, bell, control, spinning ? DOORBELL_SPIN_US : 0, { ...inits[0]!, control });
    if (control.snapshotOnExit) for (const m of members) captureRegs(m.vcpu, control, m.index);
    shareExitThreadCpu(members, cpuSince(own).totalMs);
  } finally {
    for (const m of members) end(m, bell, control, post);
    bell.release();
    // vCPUs never started (a throw mid-way) end too, so the VMM waits for none of them.
    for (const init of inits) if (!started.includes(init.index)) post({ type: 'failed', index: init.index, message: 'its exit thread stopped before starting it' });
  }
}

function startMember(init: VcpuWorkerInit, shared: ReturnType<typeof threadBus>, bell: Doorbell, spinning: boolean, post: (m: VcpuWorkerMessage) => void): Member | undefined {
  const { control } = shared;
  const index = init.index;
  const set = setUpOrReport(init, shared, post);
  if (!set) return undefined;
  const { vcpu, run } = set;
  let nv: NativeVcpu;
  try {
    nv = NativeVcpu.start(vcpu.fd, bell, spinning ? undefined : 0);
  } catch (e) {
    abandonVcpu(index, vcpu, control, post, e);
    return undefined;
  }
  control.setRunning(index);
  post({ type: 'ready', index, tid: nv.tid, runAddr: vcpu.runAddr, runSize: vcpu.runSize });
  return { index, vcpu, nv, run, stats: { byReason: {} }, left: false, kicked: false };
}

function enter(m: Member): void {
  m.run.beforeRun?.();
  m.kicked = false;
  m.nv.enter();
}

/** Runs the guest until every vCPU left; a freeze parks them all here, between two KVM_RUNs. */
function serve(members: Member[], bell: Doorbell, control: VmControl, spinUs: number, park: ParkOptions): void {
  const live = () => members.filter((m) => !m.left);
  while (!control.killed && live().length > 0) {
    if (control.freezeRequested) {
      parkFrozen(
        live().map((m) => ({ index: m.index, vcpu: m.vcpu, complete: () => runHeld(m, bell) })),
        park,
      );
      if (control.killed) break;
    }
    for (const m of live()) enter(m);
    // Until every vCPU is held again: by a freeze, the VM's end, or a kill.
    while (members.some((m) => m.nv.running)) {
      bell.wait(WAIT_MS, spinUs);
      for (const m of members) {
        const status = m.nv.running ? m.nv.takeExit() : undefined;
        if (status === undefined) continue;
        if (serveExit(m.run, m.stats, status) === 'leave') m.left = true;
        else if (!control.killed && !control.freezeRequested) enter(m);
      }
      if (control.killed || control.freezeRequested) kickRunning(members);
    }
  }
}

/** Runs a held vCPU once (immediate_exit set: KVM completes a pending I/O exit and returns). */
function runHeld(m: Member, bell: Doorbell): void {
  m.nv.enter();
  while (m.nv.takeExit() === undefined) bell.wait(WAIT_MS, 0);
}

/** immediate_exit first, then the signal: a thread about to enter the guest returns at once. */
function kickRunning(members: Member[]): void {
  for (const m of members) {
    if (!m.nv.running || m.kicked) continue;
    m.kicked = true;
    m.vcpu.setImmediateExit(true);
    tgkill(process.pid, m.nv.tid, SIGUSR2);
  }
}

/** The exit thread's own CPU time, split among its vCPUs by the exits each had served. */
function shareExitThreadCpu(members: Member[], exitThreadMs: number): void {
  const exits = (m: Member) => Object.values(m.stats.byReason).reduce((a, b) => a + b, 0);
  const total = members.reduce((a, m) => a + exits(m), 0);
  for (const m of members) {
    if (!m.cpuAtStart) continue;
    const own = cpuSince(m.cpuAtStart, taskCpu(m.nv.tid));
    const share = total > 0 ? (exitThreadMs * exits(m)) / total : exitThreadMs / members.length;
    m.cpu = { totalMs: own.totalMs + Math.round(share), guestMs: own.guestMs };
  }
}

/** Gets the vCPU out of the guest, ends its thread, closes it and posts its done. */
function end(m: Member, bell: Doorbell, control: VmControl, post: (m: VcpuWorkerMessage) => void): void {
  while (m.nv.running) {
    kickRunning([m]);
    m.kicked = false; // a kick can land before KVM_RUN was entered: repeat it until the exit arrives
    if (m.nv.takeExit() === undefined) bell.wait(WAIT_MS, 0);
  }
  m.nv.stop();
  while (!m.nv.gone) bell.wait(WAIT_MS, 0);
  m.nv.release();
  // Done before close: the VMM stops kicking this thread before kvm_run is unmapped.
  control.setDone(m.index);
  m.vcpu.close();
  post({ type: 'done', index: m.index, stats: m.cpu ? { ...m.stats, cpu: m.cpu } : undefined });
}

import { gettid } from '../sys/libc.ts';
import { runDeviceTask } from './device-task.ts';
import { captureRegs, freezeHandler } from './debug-plane.ts';
import { driveNativeVcpus } from './group.ts';
import type { VcpuTask } from './pool.ts';
import type { VcpuThreadStats, VcpuWorkerInit, VcpuWorkerMessage } from './protocol.ts';
import { vcpuRunLoop } from './run-loop.ts';
import { cpuSince, threadCpu } from '../sys/thread-cpu.ts';
import { setUpOrReport, threadBus } from './vcpu-context.ts';

/** The pool's task function. */
export default function runTask(task: VcpuTask): void {
  if (task.kind === 'warm') {
    warmBarrier(task.barrier, task.count, task.timeoutMs);
    return;
  }
  if (task.kind === 'devices') {
    runDeviceTask(task);
    return;
  }
  const post = (m: VcpuWorkerMessage) => task.port.postMessage(m);
  if (task.kind === 'vcpus') {
    try {
      driveNativeVcpus(task.inits, post); // each vCPU's 'done' is posted as it ends
    } finally {
      task.port.close();
    }
    return;
  }
  let stats: VcpuThreadStats | undefined;
  try {
    stats = driveVcpu(task.init, post);
  } finally {
    // Always last for its vCPU, so the VMM sees every earlier message before it.
    post({ type: 'done', index: task.init.index, stats });
    task.port.close();
  }
}

function warmBarrier(barrier: SharedArrayBuffer, count: number, timeoutMs: number): void {
  const word = new Int32Array(barrier);
  const deadline = performance.now() + timeoutMs;
  if (Atomics.add(word, 0, 1) + 1 >= count) Atomics.notify(word, 0);
  for (let seen = Atomics.load(word, 0); seen < count && performance.now() < deadline; seen = Atomics.load(word, 0)) {
    Atomics.wait(word, 0, seen, 100);
  }
}

function driveVcpu(init: VcpuWorkerInit, post: (m: VcpuWorkerMessage) => void): VcpuThreadStats | undefined {
  const shared = threadBus(init);
  const { control } = shared;
  const index = init.index;
  const set = setUpOrReport(init, shared, post);
  if (!set) return undefined;
  const { vcpu } = set;
  try {
    control.setRunning(index);
    post({ type: 'ready', index, tid: gettid(), runAddr: vcpu.runAddr, runSize: vcpu.runSize });
    control.waitForStart();
    const started = threadCpu();
    const stats = vcpuRunLoop({ ...set.run, onFreeze: freezeHandler(set.freeze) });
    if (control.snapshotOnExit) captureRegs(vcpu, control, index);
    return { ...stats, cpu: cpuSince(started) };
  } finally {
    // Done before close: the VMM stops kicking this thread before kvm_run is unmapped.
    control.setDone(index);
    vcpu.close();
  }
}

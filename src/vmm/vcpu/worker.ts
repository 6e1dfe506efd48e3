import { setupVcpu } from '../arch-machine.ts';
import { I8042 } from '../devices/i8042.ts';
import { Serial8250 } from '../devices/serial.ts';
import { attachVirtioDevices } from '../devices/virtio/wiring.ts';
import { type VcpuFd, VmFd } from '../kvm.ts';
import { GuestMemory } from '../memory.ts';
import { eventfdSignal, gettid } from '../sys/libc.ts';
import { VmControl } from './control.ts';
import { runDeviceTask } from './device-task.ts';
import { captureRegs, debugRegisterWatch, freezeHandler, writeTrapHandler } from './debug-plane.ts';
import { WatchpointLatch } from './latch.ts';
import type { VcpuTask } from './pool.ts';
import type { VcpuThreadStats, VcpuWorkerInit, VcpuWorkerMessage } from './protocol.ts';
import { vcpuRunLoop } from './run-loop.ts';
import { cpuSince, threadCpu } from '../sys/thread-cpu.ts';

/** A rising edge on a UART's interrupt line becomes one irqfd write. */
const irqLine = (fd: number | undefined) => (fd === undefined ? undefined : (level: boolean) => level && eventfdSignal(fd));

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
  let stats: VcpuThreadStats | undefined;
  try {
    stats = driveVcpu(task.init, post);
  } finally {
    // Always last on the port, so the VMM sees every earlier message before it.
    post({ type: 'done', stats });
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
  const control = new VmControl(init.control);
  let vcpu: VcpuFd;
  try {
    vcpu = new VmFd(init.vmFd).createVcpu(init.apicId, init.mmapSize);
  } catch (e) {
    control.setDone(init.index);
    post({ type: 'failed', message: (e as Error).message });
    return undefined;
  }
  try {
    setupVcpu(vcpu, init);
  } catch (e) {
    control.setDone(init.index);
    vcpu.close();
    post({ type: 'failed', message: (e as Error).message });
    return undefined;
  }
  control.setRunning(init.index);
  post({ type: 'ready', tid: gettid(), runAddr: vcpu.runAddr, runSize: vcpu.runSize });

  const latch = new WatchpointLatch(init.latch, { onEdge: () => eventfdSignal(init.latchEventFd) });
  const dispatch = {
    index: init.index,
    latch,
    memory: GuestMemory.attach(init.ram),
    freezeMask: init.freezeMask,
    onFreezeRequest: (slot: number) => post({ type: 'freeze-request', slot }),
    control,
  };
  const trapping = init.watchMechanism === 'writetrap';
  try {
    control.waitForStart();
    const started = threadCpu();
    const stats = vcpuRunLoop({
      index: init.index,
      vcpu,
      bus: {
        i8042: new I8042(),
        ...(init.serialPorts.includes('com1') ? { com1: new Serial8250(init.com1, irqLine(init.serialIrqFds?.com1)) } : {}),
        ...(init.serialPorts.includes('com2') ? { com2: new Serial8250(init.com2, irqLine(init.serialIrqFds?.com2)) } : {}),
        mmio: init.virtio ? attachVirtioDevices(init.virtio, dispatch.memory) : [],
        ...(trapping ? { writeTrap: writeTrapHandler(dispatch) } : {}),
      },
      control,
      killEventFd: init.killEventFd,
      ...(trapping ? {} : debugRegisterWatch(vcpu, dispatch)),
      onFreeze: freezeHandler({
        index: init.index,
        vcpu,
        control,
        hasImmediateExit: init.hasImmediateExit,
        parkedEventFd: init.parkedEventFd,
        thawEventFd: init.thawEventFd,
        killEventFd: init.killEventFd,
      }),
    });
    if (control.snapshotOnExit) captureRegs(vcpu, control, init.index);
    return { ...stats, cpu: cpuSince(started) };
  } finally {
    // Done before close: the VMM stops kicking this thread before kvm_run is unmapped.
    control.setDone(init.index);
    vcpu.close();
  }
}

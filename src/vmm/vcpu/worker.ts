// A vCPU's own thread: it creates the vCPU (KVM wants vCPU ioctls from one thread), sets it up,
// and runs KVM_RUN synchronously so a blocking run never touches the VMM's event loop.
import { parentPort, workerData } from 'node:worker_threads';
import { Serial8250 } from '../devices/serial.ts';
import { VcpuFd, VmFd } from '../kvm.ts';
import { GuestMemory } from '../memory.ts';
import { eventfdSignal, gettid } from '../sys/libc.ts';
import { entryRegs, setupSregs } from '../x86_64/long-mode.ts';
import { LINUX_BOOT_MSRS, setLintPins } from '../x86_64/machine.ts';
import { VmControl } from './control.ts';
import { captureRegs, debugExitHandler, freezeHandler, watchpointArmer, writeTrapHandler } from './debug-plane.ts';
import { WatchpointLatch } from './latch.ts';
import type { VcpuWorkerInit, VcpuWorkerMessage } from './protocol.ts';
import { vcpuRunLoop } from './run-loop.ts';

const init = workerData as VcpuWorkerInit;
/** A rising edge on a UART's interrupt line becomes one irqfd write. */
const irqLine = (fd: number | undefined) => (fd === undefined ? undefined : (level: boolean) => level && eventfdSignal(fd));
const post = (m: VcpuWorkerMessage) => parentPort!.postMessage(m);
const control = new VmControl(init.control);

let vcpu: VcpuFd | undefined;
try {
  vcpu = new VmFd(init.vmFd).createVcpu(init.apicId, init.mmapSize);
  vcpu.setCpuid2(init.cpuid);
  if (init.start.mode === 'long-mode') {
    vcpu.setSregs(setupSregs(vcpu.getSregs()));
    vcpu.setRegs(entryRegs(init.start.entry));
  }
  vcpu.setFpu({ ...vcpu.getFpu(), fcw: 0x37f, mxcsr: 0x1f80 });
  if (init.linuxCpuState) {
    vcpu.setMsrs(LINUX_BOOT_MSRS);
    vcpu.setLapic(setLintPins(vcpu.getLapic()));
  }
  control.setRunning(init.index);
  post({ type: 'ready', tid: gettid(), runAddr: vcpu.runAddr, runSize: vcpu.runSize });
} catch (e) {
  control.setDone(init.index);
  vcpu?.close();
  post({ type: 'failed', message: (e as Error).message });
  vcpu = undefined;
}

if (vcpu) {
  const v = vcpu;
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
  let stats;
  try {
    control.waitForStart();
    stats = vcpuRunLoop({
      index: init.index,
      vcpu: v,
      bus: {
        com1: new Serial8250(init.com1, irqLine(init.serialIrqFds?.com1)),
        com2: new Serial8250(init.com2, irqLine(init.serialIrqFds?.com2)),
        mmio: [],
        ...(trapping ? { writeTrap: writeTrapHandler(dispatch) } : {}),
      },
      control,
      killEventFd: init.killEventFd,
      ...(trapping ? {} : { beforeRun: watchpointArmer(v, latch), onDebug: debugExitHandler(dispatch) }),
      onFreeze: freezeHandler({
        index: init.index,
        vcpu: v,
        control,
        hasImmediateExit: init.hasImmediateExit,
        parkedEventFd: init.parkedEventFd,
        thawEventFd: init.thawEventFd,
        killEventFd: init.killEventFd,
      }),
    });
    if (control.snapshotOnExit) captureRegs(v, control, init.index);
  } finally {
    control.setDone(init.index);
    v.close();
  }
  post({ type: 'done', stats });
}

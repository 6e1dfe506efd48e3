// What serving a vCPU's exits needs, built on the thread that serves them: the exit bus (UARTs,
// i8042, virtio windows) and guest memory, once per thread, then per vCPU its fd, set up for
// entry, and the debug plane's hooks. A vCPU's own worker builds one; the exit thread of native
// vCPUs (group.ts) builds one per vCPU over one shared bus.
import { setupVcpu } from '../arch-machine.ts';
import { CoalescedRing } from '../coalesced-ring.ts';
import { I8042 } from '../devices/i8042.ts';
import { Serial8250 } from '../devices/serial.ts';
import { attachVirtioDevices } from '../devices/virtio/wiring.ts';
import type { ExitBus } from '../exits.ts';
import { type VcpuFd, VmFd } from '../kvm.ts';
import { GuestMemory } from '../memory.ts';
import { eventfdSignal } from '../sys/libc.ts';
import { VmControl } from './control.ts';
import { debugRegisterWatch, type FreezeOptions, writeTrapHandler } from './debug-plane.ts';
import { WatchpointLatch } from './latch.ts';
import type { VcpuWorkerInit, VcpuWorkerMessage } from './protocol.ts';
import type { RunLoopContext } from './run-loop.ts';

/** A rising edge on a UART's interrupt line becomes one irqfd write. */
const irqLine = (fd: number | undefined) => (fd === undefined ? undefined : (level: boolean) => level && eventfdSignal(fd));

/** One thread's view of a VM: its control block, RAM and devices (every vCPU of the VM shares them). */
export interface ThreadBus {
  control: VmControl;
  memory: GuestMemory;
  bus: ExitBus;
}

/** The devices an exit can reach, attached on this thread (the VM's fields of any vCPU's init). */
export function threadBus(init: VcpuWorkerInit): ThreadBus {
  const memory = GuestMemory.attach(init.ram);
  const bus: ExitBus = {
    i8042: new I8042(),
    ...(init.serialPorts.includes('com1') ? { com1: new Serial8250(init.com1, irqLine(init.serialIrqFds?.com1)) } : {}),
    ...(init.serialPorts.includes('com2') ? { com2: new Serial8250(init.com2, irqLine(init.serialIrqFds?.com2)) } : {}),
    mmio: init.virtio ? attachVirtioDevices(init.virtio, memory) : [],
  };
  return { control: new VmControl(init.control), memory, bus };
}

/** Creates vCPU `init.index` and sets it up for entry; a failure marks it done and is thrown. */
export function createVcpu(init: VcpuWorkerInit, control: VmControl): VcpuFd {
  let vcpu: VcpuFd;
  try {
    vcpu = new VmFd(init.vmFd).createVcpu(init.apicId, init.mmapSize);
  } catch (e) {
    control.setDone(init.index);
    throw e;
  }
  try {
    setupVcpu(vcpu, init);
  } catch (e) {
    control.setDone(init.index);
    vcpu.close();
    throw e;
  }
  return vcpu;
}

/** Gives up on a created vCPU: marks it done, closes it and posts `failed` with `e`'s message. */
export function abandonVcpu(index: number, vcpu: VcpuFd, control: VmControl, post: (m: VcpuWorkerMessage) => void, e: unknown): void {
  control.setDone(index);
  vcpu.close();
  post({ type: 'failed', index, message: (e as Error).message });
}

/**
 * Creates vCPU `init.index` and builds its exit context, before it reports ready; a failure
 * posts `failed` instead (the VMM waits for one or the other), the vCPU closed.
 */
export function setUpOrReport(init: VcpuWorkerInit, shared: ThreadBus, post: (m: VcpuWorkerMessage) => void): ({ vcpu: VcpuFd } & ReturnType<typeof vcpuContext>) | undefined {
  let vcpu: VcpuFd;
  try {
    vcpu = createVcpu(init, shared.control);
  } catch (e) {
    post({ type: 'failed', index: init.index, message: (e as Error).message });
    return undefined;
  }
  try {
    return { vcpu, ...vcpuContext(init, vcpu, shared, (slot) => post({ type: 'freeze-request', index: init.index, slot })) };
  } catch (e) {
    abandonVcpu(init.index, vcpu, shared.control, post, e);
    return undefined;
  }
}

/** A created vCPU's exit context: its bus (with its write trap), the debug plane's hooks, and what a freeze needs. */
export function vcpuContext(init: VcpuWorkerInit, vcpu: VcpuFd, shared: ThreadBus, onFreezeRequest: (slot: number) => void): { run: RunLoopContext; freeze: FreezeOptions } {
  const { control, memory } = shared;
  const latch = new WatchpointLatch(init.latch, { onEdge: () => eventfdSignal(init.latchEventFd) });
  const dispatch = { index: init.index, latch, memory, freezeMask: init.freezeMask, onFreezeRequest, control };
  const trapping = init.watchMechanism === 'writetrap';
  return {
    run: {
      index: init.index,
      vcpu,
      bus: trapping ? { ...shared.bus, writeTrap: writeTrapHandler(dispatch) } : shared.bus,
      control,
      killEventFd: init.killEventFd,
      ...(trapping ? {} : debugRegisterWatch(vcpu, dispatch)),
      ...(init.coalesced ? { coalesced: CoalescedRing.inRun(vcpu.runBytes, init.coalesced) } : {}),
    },
    freeze: {
      index: init.index,
      vcpu,
      control,
      hasImmediateExit: init.hasImmediateExit,
      parkedEventFd: init.parkedEventFd,
      thawEventFd: init.thawEventFd,
      killEventFd: init.killEventFd,
    },
  };
}

// The pool task that is a VM's device thread: it serves queue notifies until the VM is killed,
// then reports what it did and the CPU time it took.
import { serveQueueNotifies } from '../devices/virtio/notify-loop.ts';
import { GuestMemory } from '../memory.ts';
import { cpuSince, threadCpu } from '../sys/thread-cpu.ts';
import type { VcpuTask } from './pool.ts';
import type { DeviceThreadMessage } from './protocol.ts';

export function runDeviceTask(task: Extract<VcpuTask, { kind: 'devices' }>): void {
  const post = (m: DeviceThreadMessage) => task.port.postMessage(m);
  const before = threadCpu();
  try {
    const served = serveQueueNotifies(task.init.virtio, GuestMemory.attach(task.init.ram), task.init.stopFd);
    post({ type: 'done', stats: { ...served, cpuMs: cpuSince(before).totalMs } });
  } catch (e) {
    post({ type: 'done', error: (e as Error).message });
  } finally {
    task.port.close();
  }
}

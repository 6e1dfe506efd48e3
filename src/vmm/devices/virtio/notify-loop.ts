// The device thread: the guest's QueueNotify writes land in ioeventfds inside KVM (the vCPU
// goes straight back to the guest), and this loop works the notified queues. Disk reads and
// writes, console and net copies then run here, not on the vCPU thread whose CPU time a
// scheduler test measures. vCPU threads keep the register accesses (status, features, config).
import type { GuestMemory } from '../../memory.ts';
import { eventfdDrain, pollIn } from '../../sys/libc.ts';
import { attachVirtioTransports, type VirtioWiring } from './wiring.ts';

export interface NotifyLoopStats {
  /** Notify eventfd wake-ups served (several guest notifies can fold into one). */
  notifies: number;
}

/** Serves queue notifies until `stopFd` (the VM's kill eventfd) is readable; those already signalled are served first. */
export function serveQueueNotifies(wiring: VirtioWiring, memory: GuestMemory, stopFd: number): NotifyLoopStats {
  const queueOf = new Map<number, { kick: (q: number) => void; queue: number }>();
  for (const { transport, notifyFds } of attachVirtioTransports(wiring, memory)) {
    notifyFds.forEach((fd, queue) => {
      queueOf.set(fd, { kick: (q) => transport.kick(q), queue });
    });
  }
  const fds = [stopFd, ...queueOf.keys()];
  const stats: NotifyLoopStats = { notifies: 0 };
  for (;;) {
    const ready = pollIn(fds, -1);
    for (const fd of ready) {
      if (fd === stopFd) continue;
      // Drained before the queue is worked: a notify arriving meanwhile wakes the next poll.
      if (eventfdDrain(fd) === 0n) continue;
      const target = queueOf.get(fd)!;
      target.kick(target.queue);
      stats.notifies++;
    }
    if (ready.includes(stopFd)) return stats;
  }
}

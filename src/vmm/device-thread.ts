// A VM's device thread from the VMM's side: started on the pool beside the vCPUs when the
// devices' queue notifies go to ioeventfds, ended by the VM's kill eventfd like a parked vCPU.
import type { DeviceThreadResult } from './result.ts';
import { startDeviceThread } from './vcpu/pool.ts';
import type { DeviceThreadInit, DeviceThreadMessage } from './vcpu/protocol.ts';

export class DeviceThread {
  private stats?: DeviceThreadResult;
  private error?: string;

  private constructor(
    /** Settles once the thread has left its loop (never rejects). */
    readonly done: Promise<void>,
  ) {}

  static start(init: DeviceThreadInit): DeviceThread {
    const run = startDeviceThread(init);
    let finish!: () => void;
    const thread = new DeviceThread(new Promise<void>((resolve) => (finish = resolve)));
    run.port.on('message', (m: DeviceThreadMessage) => {
      if (m.stats) thread.stats = { notifies: m.stats.notifies, cpuMs: m.stats.cpuMs };
      if (m.error) thread.error = m.error;
      run.port.close();
      finish();
    });
    run.finished.catch((e: Error) => {
      thread.error ??= e.message;
      run.port.close();
      finish();
    });
    return thread;
  }

  /** What it did, once done (undefined if it failed). */
  get result(): DeviceThreadResult | undefined {
    return this.stats;
  }

  /** Why it stopped early, if it did. */
  get failure(): string | undefined {
    return this.error;
  }
}

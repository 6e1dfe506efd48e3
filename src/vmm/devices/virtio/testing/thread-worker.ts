// A stand-in vCPU thread for the threads test: its own device instance over the shared state,
// notifying one queue and acknowledging interrupts as fast as it can until told to stop.
import { parentPort, workerData } from 'node:worker_threads';
import type { RamRegion } from '../../../memory.ts';
import { GuestMemory } from '../../../memory.ts';
import { VirtioConsole, type VirtioConsoleShared } from '../console/device.ts';
import { Reg } from '../constants.ts';
import { VirtioNet, type VirtioNetShared } from '../net/device.ts';

export interface ThreadWorkerData {
  kind: 'console' | 'net';
  shared: VirtioConsoleShared | VirtioNetShared;
  regions: RamRegion[];
  queue: number;
  /** Int32 [stop flag, interrupts, notifications]. */
  control: SharedArrayBuffer;
}

const data = workerData as ThreadWorkerData;
const control = new Int32Array(data.control);
const env = { memory: GuestMemory.attach(data.regions), interrupt: () => void Atomics.add(control, 1, 1) };
const dev = data.kind === 'console' ? new VirtioConsole(data.shared as VirtioConsoleShared, env) : new VirtioNet(data.shared as VirtioNetShared, env);
const notify = Uint8Array.of(data.queue, 0, 0, 0);
const isr = new Uint8Array(4);
parentPort!.postMessage('ready');
while (Atomics.load(control, 0) === 0) {
  dev.mmio.write(Reg.QueueNotify, notify);
  dev.mmio.read(Reg.InterruptStatus, isr);
  dev.mmio.write(Reg.InterruptAck, isr);
  Atomics.add(control, 2, 1);
  Atomics.wait(control, 0, 0, 0.05); // a breath, as a vCPU runs guest code between exits
}
parentPort!.postMessage('done');

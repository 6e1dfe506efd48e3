// virtio-console (device id 3), port 0 only: receiveq 0 carries host input to the guest's hvc0,
// transmitq 1 carries its output into a shared ring the VMM drains like a serial port's.
import type { GuestPhysAddr } from '../../../guest-address.ts';
import type { GuestMemory } from '../../../memory.ts';
import { ByteRing } from '../../byte-ring.ts';
import { DeviceId } from '../constants.ts';
import type { VirtioDevice, VirtioEnv } from '../device.ts';
import { GuestInputError } from '../errors.ts';
import { ReadableBuffers, WritableBuffers } from '../iovec.ts';
import { MmioTransport } from '../mmio.ts';
import type { SplitQueue } from '../queue.ts';
import { createTransportState } from '../state.ts';

export const RECEIVEQ = 0;
export const TRANSMITQ = 1;
const QUEUE_SIZE = 256;
const MAX_CHAIN_BYTES = 64 * 1024;
/** cols, rows, max_nr_ports, emerg_wr: all unused without F_SIZE / F_MULTIPORT / F_EMERG_WRITE. */
const CONFIG_BYTES = 12;

export interface VirtioConsoleShared {
  base: GuestPhysAddr;
  transport: SharedArrayBuffer;
  /** ByteRing: guest output. */
  output: SharedArrayBuffer;
  /** ByteRing: host input. */
  input: SharedArrayBuffer;
}

export interface VirtioConsoleOptions {
  /** Guest-physical base of the MMIO window. */
  base: GuestPhysAddr;
  outputCapacity?: number;
  inputCapacity?: number;
}

export class VirtioConsole implements VirtioDevice {
  readonly deviceId = DeviceId.Console;
  readonly queueMaxSizes = [QUEUE_SIZE, QUEUE_SIZE];
  readonly features = 0n;
  readonly config = new Uint8Array(CONFIG_BYTES);
  /** The MMIO window for ExitBus.mmio. */
  readonly mmio: MmioTransport;
  readonly output: ByteRing;
  readonly input: ByteRing;
  private readonly ram: GuestMemory;

  /** This thread's handle on a console whose state is `shared`. */
  constructor(
    readonly shared: VirtioConsoleShared,
    env: VirtioEnv,
  ) {
    this.output = new ByteRing(shared.output);
    this.input = new ByteRing(shared.input);
    this.ram = env.memory;
    this.mmio = new MmioTransport(shared.base, shared.transport, this, this.ram, env);
  }

  static createShared(opts: VirtioConsoleOptions): VirtioConsoleShared {
    return {
      base: opts.base,
      transport: createTransportState([QUEUE_SIZE, QUEUE_SIZE]),
      output: ByteRing.create(opts.outputCapacity ?? 1 << 20).sab,
      input: ByteRing.create(opts.inputCapacity ?? 64 * 1024).sab,
    };
  }

  static create(opts: VirtioConsoleOptions, env: VirtioEnv): VirtioConsole {
    return new VirtioConsole(VirtioConsole.createShared(opts), env);
  }

  maxChainBytes(q: number): number {
    return q === TRANSMITQ ? Math.min(MAX_CHAIN_BYTES, this.output.capacity) : MAX_CHAIN_BYTES;
  }

  process(queue: SplitQueue): void {
    if (queue.index === TRANSMITQ) this.transmit(queue);
    else this.receive(queue);
  }

  reset(): void {}

  private transmit(q: SplitQueue): void {
    for (let i = 0; i < q.size; i++) {
      const chain = q.pop();
      if (!chain) return;
      if (chain.readableLen > this.output.capacity - this.output.available) {
        // Never block under the lock: wait for the VMM to drain (drainOutput resumes us).
        q.unpop();
        q.stall();
        return;
      }
      for (const b of ReadableBuffers.of(this.ram, chain).read()) this.output.push(b);
      q.addUsed(chain.head, 0);
    }
  }

  private receive(q: SplitQueue): void {
    for (let i = 0; i < q.size && this.input.available > 0; i++) {
      const chain = q.pop();
      if (!chain) return;
      if (chain.writableLen === 0) throw new GuestInputError('request', 'receiveq buffer with no device-writable space');
      const n = Math.min(this.input.available, chain.writableLen);
      const bytes = new Uint8Array(n);
      for (let k = 0; k < n; k++) bytes[k] = this.input.drainOne();
      WritableBuffers.of(this.ram, chain).write(0, bytes);
      q.addUsed(chain.head, n);
    }
  }

  /**
   * Host side (one thread, e.g. the VMM's): queues input for the guest's hvc0 and hands it over
   * if the guest has buffers. Returns how many bytes fit in the input ring; the rest are dropped.
   */
  inject(bytes: Uint8Array): number {
    const n = Math.min(bytes.length, this.input.capacity - this.input.available);
    for (let i = 0; i < n; i++) this.input.push(bytes[i]!);
    this.mmio.kick(RECEIVEQ);
    return n;
  }

  /** Host side: the guest's output so far. Frees ring room, so output that waited for it moves on. */
  drainOutput(): Uint8Array {
    const out = this.output.drain();
    this.mmio.resumeStalled();
    return out;
  }
}

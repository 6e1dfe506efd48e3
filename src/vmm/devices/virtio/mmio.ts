// The virtio-mmio (version 2) register file over shared state: any vCPU thread can take the exit,
// the host thread can kick queues, and one lock orders them all.
import type { GuestPhysAddr } from '../../guest-address.ts';
import type { GuestMemory } from '../../memory.ts';
import type { MmioDevice } from '../../exits.ts';
import { lock, unlock } from '../shared-lock.ts';
import { F_INDIRECT_DESC, F_VERSION_1, INT_CONFIG_CHANGE, INT_USED_BUFFER, MMIO_MAGIC, MMIO_VERSION, Reg, Status, VENDOR_ID, VIRTIO_MMIO_SIZE } from './constants.ts';
import type { VirtioDevice, VirtioEnv } from './device.ts';
import { FAULTS, faultOf, GuestInputError, type Fault } from './errors.ts';
import { SplitQueue } from './queue.ts';
import {
  Q_DESC_HI,
  Q_DESC_LO,
  Q_DEVICE_HI,
  Q_DEVICE_LO,
  Q_DRIVER_HI,
  Q_DRIVER_LO,
  Q_NUM,
  queueBase,
  resetTransportState,
  W_CONFIG_GENERATION,
  W_DEVICE_FEATURES_SEL,
  W_DRIVER_FEATURES_BAD,
  W_DRIVER_FEATURES_HI,
  W_DRIVER_FEATURES_LO,
  W_DRIVER_FEATURES_SEL,
  W_FAULT,
  W_INTERRUPT_STATUS,
  W_INTERRUPTS,
  W_LOCK,
  W_QUEUE_COUNT,
  W_QUEUE_SEL,
  W_STALLED,
  W_STATUS,
} from './state.ts';
import { VmmStateError } from '../../errors.ts';

/** Queue registers that hold plain values until QueueReady. */
const QUEUE_WORD: Partial<Record<number, number>> = {
  [Reg.QueueNum]: Q_NUM,
  [Reg.QueueDescLow]: Q_DESC_LO,
  [Reg.QueueDescHigh]: Q_DESC_HI,
  [Reg.QueueDriverLow]: Q_DRIVER_LO,
  [Reg.QueueDriverHigh]: Q_DRIVER_HI,
  [Reg.QueueDeviceLow]: Q_DEVICE_LO,
  [Reg.QueueDeviceHigh]: Q_DEVICE_HI,
};
const LIVE = Status.DriverOk | Status.FeaturesOk;

export class MmioTransport implements MmioDevice {
  readonly size = VIRTIO_MMIO_SIZE;
  /** Everything offered: the device's bits plus the transport's. */
  readonly offered: bigint;
  private readonly s: Int32Array;
  private readonly queues: SplitQueue[];
  // Per-thread bookkeeping of one locked section.
  private signal = false;
  private newFault: string | undefined;

  constructor(
    readonly base: GuestPhysAddr,
    state: SharedArrayBuffer,
    private readonly device: VirtioDevice,
    ram: GuestMemory,
    private readonly env: VirtioEnv,
  ) {
    this.s = new Int32Array(state);
    if (this.s[W_QUEUE_COUNT] !== device.queueMaxSizes.length) throw new VmmStateError('transport state was made for another device');
    this.offered = device.features | F_VERSION_1 | F_INDIRECT_DESC;
    this.queues = device.queueMaxSizes.map((_, q) => new SplitQueue(this.s, q, ram, device.maxChainBytes(q)));
  }

  read(offset: number, data: Uint8Array): void {
    if (offset >= Reg.Config) {
      const cfg = this.device.config;
      for (let i = 0; i < data.length; i++) data[i] = cfg[offset - Reg.Config + i] ?? 0;
      return;
    }
    if (data.length !== 4 || offset & 3) {
      data.fill(0);
      return;
    }
    const v = this.locked(() => this.readRegister(offset), 0);
    new DataView(data.buffer, data.byteOffset, 4).setUint32(0, v >>> 0, true);
  }

  write(offset: number, data: Uint8Array): void {
    // Configuration space is read-only for our devices; registers take 32-bit accesses only.
    if (offset >= Reg.Config || data.length !== 4 || offset & 3) return;
    const v = new DataView(data.buffer, data.byteOffset, 4).getUint32(0, true);
    this.locked(() => this.writeRegister(offset, v), undefined);
  }

  /** Host side: works queue `q` as if the driver had notified it (new input for the guest). */
  kick(q: number): void {
    this.locked(() => this.processQueue(q), undefined);
  }

  /** Host side: retries the queues that stopped for lack of room on the host's side. */
  resumeStalled(): void {
    if (Atomics.load(this.s, W_STALLED) === 0) return;
    this.locked(() => {
      const stalled = this.s[W_STALLED]!;
      this.s[W_STALLED] = 0;
      for (let q = 0; q < this.queues.length; q++) if (stalled & (1 << q)) this.processQueue(q);
    }, undefined);
  }

  get status(): number {
    return Atomics.load(this.s, W_STATUS);
  }
  get interruptStatus(): number {
    return Atomics.load(this.s, W_INTERRUPT_STATUS);
  }
  /** Interrupts signalled so far, from every thread. */
  get interruptCount(): number {
    return Atomics.load(this.s, W_INTERRUPTS);
  }
  /** Why the device needs a reset, if it does. */
  get fault(): Fault | undefined {
    const f = Atomics.load(this.s, W_FAULT);
    return f === 0 ? undefined : FAULTS[f - 1];
  }
  /** Driver-accepted features (valid once FEATURES_OK is set). */
  get negotiated(): bigint {
    return this.locked(() => this.driverFeatures(), 0n);
  }

  /**
   * Runs `fn` under the device lock, then reports and signals what it raised. Nothing escapes:
   * an exception (there should be none outside processQueue) puts the device in needs-reset.
   */
  private locked<T>(fn: () => T, fallback: T): T {
    lock(this.s, W_LOCK);
    let out = fallback;
    try {
      out = fn();
    } catch (e) {
      this.fail(e);
    } finally {
      unlock(this.s, W_LOCK);
    }
    // The VMM's callbacks must not take down the exit that called them.
    if (this.newFault !== undefined) {
      const reason = this.newFault;
      this.newFault = undefined;
      try {
        this.env.onNeedsReset?.(reason);
      } catch {}
    }
    if (this.signal) {
      this.signal = false;
      Atomics.add(this.s, W_INTERRUPTS, 1);
      try {
        this.env.interrupt();
      } catch {}
    }
    return out;
  }

  private readRegister(offset: number): number {
    const s = this.s;
    const q = this.queues[s[W_QUEUE_SEL]!];
    switch (offset) {
      case Reg.MagicValue:
        return MMIO_MAGIC;
      case Reg.Version:
        return MMIO_VERSION;
      case Reg.DeviceId:
        return this.device.deviceId;
      case Reg.VendorId:
        return VENDOR_ID;
      case Reg.DeviceFeatures: {
        const sel = s[W_DEVICE_FEATURES_SEL]!;
        return sel === 0 || sel === 1 ? Number((this.offered >> BigInt(32 * sel)) & 0xffff_ffffn) : 0;
      }
      case Reg.QueueNumMax:
        return q?.maxSize ?? 0;
      case Reg.QueueReady:
        return q?.ready ? 1 : 0;
      case Reg.InterruptStatus:
        return s[W_INTERRUPT_STATUS]!;
      case Reg.Status:
        return s[W_STATUS]!;
      case Reg.ConfigGeneration:
        return s[W_CONFIG_GENERATION]!;
      case Reg.ShmLenLow:
      case Reg.ShmLenHigh:
      case Reg.ShmBaseLow:
      case Reg.ShmBaseHigh:
        return 0xffff_ffff; // no shared memory regions
      default: {
        const w = QUEUE_WORD[offset];
        return w !== undefined && q ? s[queueBase(q.index) + w]! : 0;
      }
    }
  }

  private writeRegister(offset: number, v: number): void {
    const s = this.s;
    const q = this.queues[s[W_QUEUE_SEL]!];
    switch (offset) {
      case Reg.DeviceFeaturesSel:
        s[W_DEVICE_FEATURES_SEL] = v;
        return;
      case Reg.DriverFeaturesSel:
        s[W_DRIVER_FEATURES_SEL] = v;
        return;
      case Reg.DriverFeatures: {
        if (s[W_STATUS]! & Status.FeaturesOk) return; // fixed once accepted
        const sel = s[W_DRIVER_FEATURES_SEL]!;
        if (sel === 0) s[W_DRIVER_FEATURES_LO] = v;
        else if (sel === 1) s[W_DRIVER_FEATURES_HI] = v;
        else if (v !== 0) s[W_DRIVER_FEATURES_BAD] = 1;
        return;
      }
      case Reg.QueueSel:
        s[W_QUEUE_SEL] = v;
        return;
      case Reg.QueueReady:
        if (!q) return;
        if (!(v & 1)) q.deactivate();
        else if (!q.ready) {
          try {
            q.activate();
          } catch (e) {
            this.fail(e);
          }
        }
        return;
      case Reg.QueueNotify:
        // Without VIRTIO_F_NOTIFICATION_DATA (never offered) the whole value is the queue index.
        if (v >= this.queues.length) this.fail(new GuestInputError('queue-index', `notify of queue ${v}; the device has ${this.queues.length}`));
        else this.processQueue(v);
        return;
      case Reg.InterruptAck:
        s[W_INTERRUPT_STATUS] = s[W_INTERRUPT_STATUS]! & ~v;
        return;
      case Reg.Status:
        this.setStatus(v & 0xff);
        return;
      default: {
        const w = QUEUE_WORD[offset];
        if (w !== undefined && q && !q.ready) s[queueBase(q.index) + w] = v;
      }
    }
  }

  private driverFeatures(): bigint {
    return (BigInt(this.s[W_DRIVER_FEATURES_HI]! >>> 0) << 32n) | BigInt(this.s[W_DRIVER_FEATURES_LO]! >>> 0);
  }

  private setStatus(v: number): void {
    const s = this.s;
    if (v === 0) {
      resetTransportState(s);
      this.device.reset();
      return;
    }
    const old = s[W_STATUS]!;
    let next = (v & ~Status.NeedsReset) | (old & Status.NeedsReset); // that bit is the device's
    if (next & Status.FeaturesOk && !(old & Status.FeaturesOk)) {
      const drv = this.driverFeatures();
      const ok = (drv & ~this.offered) === 0n && (drv & F_VERSION_1) !== 0n && s[W_DRIVER_FEATURES_BAD] === 0;
      if (!ok) next &= ~Status.FeaturesOk;
    }
    s[W_STATUS] = next;
    // Buffers offered before DRIVER_OK got no notification we acted on: look now.
    if (next & Status.DriverOk && !(old & Status.DriverOk)) for (let i = 0; i < this.queues.length; i++) this.processQueue(i);
  }

  private live(): boolean {
    const st = this.s[W_STATUS]!;
    return (st & LIVE) === LIVE && !(st & (Status.NeedsReset | Status.Failed));
  }

  private processQueue(index: number): void {
    const q = this.queues[index];
    if (!q?.ready || !this.live()) return;
    try {
      this.device.process(q);
    } catch (e) {
      this.fail(e);
    }
    if (q.takeInterruptDue()) this.raise(INT_USED_BUFFER);
  }

  private raise(bits: number): void {
    this.s[W_INTERRUPT_STATUS] = this.s[W_INTERRUPT_STATUS]! | bits;
    this.signal = true;
  }

  /** Malformed guest input: DEVICE_NEEDS_RESET and a configuration-change interrupt. */
  private fail(e: unknown): void {
    const s = this.s;
    if (s[W_STATUS]! & Status.NeedsReset) return;
    const fault = faultOf(e);
    s[W_STATUS] = s[W_STATUS]! | Status.NeedsReset;
    s[W_FAULT] = FAULTS.indexOf(fault) + 1;
    this.raise(INT_CONFIG_CHANGE);
    this.newFault = e instanceof Error ? e.message : String(e);
  }
}

// A guest-side virtio-mmio driver for tests: sets the device up through its registers and
// builds split rings in real guest memory, byte for byte as Linux would.
import type { MmioDevice } from '../../../exits.ts';
import type { GuestPhysAddr } from '../../../guest-address.ts';
import type { GuestMemory } from '../../../memory.ts';
import { DESC_F_INDIRECT, DESC_F_NEXT, DESC_F_WRITE, DESC_SIZE, F_VERSION_1, Reg, Status } from '../constants.ts';

export interface RawDescriptor {
  /** The raw 64-bit field: whatever a guest may write there, in guest-physical space or not. */
  addr: number | bigint;
  len: number;
  flags: number;
  next: number;
}

export interface BufferSpec {
  /** Device-readable contents (for a readable buffer). */
  data?: Uint8Array;
  /** Length of a device-writable buffer. */
  len?: number;
  write?: boolean;
}

export interface UsedElement {
  id: number;
  len: number;
}

/** Placement of a chain's buffers, for reading back what the device wrote. */
export interface AddedChain {
  head: number;
  buffers: Array<{ addr: GuestPhysAddr; len: number; write: boolean }>;
}

export class TestDriver {
  private heap: GuestPhysAddr;

  constructor(
    readonly mem: GuestMemory,
    readonly dev: MmioDevice,
    private readonly heapStart = 0x10000,
    private readonly heapEnd = mem.size,
  ) {
    this.heap = heapStart;
  }

  reg(offset: number): number {
    const b = new Uint8Array(4);
    this.dev.read(offset, b);
    return new DataView(b.buffer).getUint32(0, true);
  }
  setReg(offset: number, v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    this.dev.write(offset, b);
  }
  config(offset: number, len: number): Uint8Array {
    const b = new Uint8Array(len);
    this.dev.read(Reg.Config + offset, b);
    return b;
  }
  get status(): number {
    return this.reg(Reg.Status);
  }
  deviceFeatures(): bigint {
    this.setReg(Reg.DeviceFeaturesSel, 1);
    const hi = this.reg(Reg.DeviceFeatures);
    this.setReg(Reg.DeviceFeaturesSel, 0);
    return (BigInt(hi) << 32n) | BigInt(this.reg(Reg.DeviceFeatures));
  }

  /** Bump allocation in the heap area, wrapping (tests reuse memory once the device is done). */
  alloc(len: number, align = 16): GuestPhysAddr {
    let at = Math.ceil(this.heap / align) * align;
    if (at + len > this.heapEnd) at = Math.ceil(this.heapStart / align) * align;
    if (at + len > this.heapEnd) throw new RangeError(`test heap cannot hold ${len} bytes`);
    this.heap = at + len;
    return at;
  }

  /** Reset, ACKNOWLEDGE|DRIVER, write `features`, FEATURES_OK; returns the status read back. */
  negotiate(features: bigint): number {
    this.setReg(Reg.Status, 0);
    this.setReg(Reg.Status, Status.Acknowledge);
    this.setReg(Reg.Status, Status.Acknowledge | Status.Driver);
    this.setReg(Reg.DriverFeaturesSel, 1);
    this.setReg(Reg.DriverFeatures, Number(features >> 32n));
    this.setReg(Reg.DriverFeaturesSel, 0);
    this.setReg(Reg.DriverFeatures, Number(features & 0xffff_ffffn));
    this.setReg(Reg.Status, Status.Acknowledge | Status.Driver | Status.FeaturesOk);
    return this.status;
  }

  /** Places queue `index`'s rings (size `size`) in the heap and sets QueueReady. */
  setupQueue(index: number, size: number): TestQueue {
    const desc = this.alloc(DESC_SIZE * size, 4096);
    const avail = this.alloc(6 + 2 * size, 2);
    const used = this.alloc(6 + 8 * size, 4096);
    this.mem.slice(desc, DESC_SIZE * size).fill(0);
    this.mem.slice(avail, 6 + 2 * size).fill(0);
    this.mem.slice(used, 6 + 8 * size).fill(0);
    this.setReg(Reg.QueueSel, index);
    this.setReg(Reg.QueueNum, size);
    this.setReg(Reg.QueueDescLow, desc);
    this.setReg(Reg.QueueDescHigh, 0);
    this.setReg(Reg.QueueDriverLow, avail);
    this.setReg(Reg.QueueDriverHigh, 0);
    this.setReg(Reg.QueueDeviceLow, used);
    this.setReg(Reg.QueueDeviceHigh, 0);
    this.setReg(Reg.QueueReady, 1);
    return new TestQueue(this, index, size, desc, avail, used);
  }

  /** The whole bring-up: features (VERSION_1 plus `extra`), every queue, DRIVER_OK. */
  start(queueSizes: readonly number[], extra = 0n): TestQueue[] {
    const st = this.negotiate(F_VERSION_1 | extra);
    if (!(st & Status.FeaturesOk)) throw new Error(`device refused features 0x${(F_VERSION_1 | extra).toString(16)}`);
    const queues = queueSizes.map((n, i) => this.setupQueue(i, n));
    this.setReg(Reg.Status, Status.Acknowledge | Status.Driver | Status.FeaturesOk | Status.DriverOk);
    return queues;
  }
}

export class TestQueue {
  private nextDesc = 0;
  private availIdx = 0;
  private lastUsed = 0;

  constructor(
    private readonly d: TestDriver,
    readonly index: number,
    readonly size: number,
    readonly desc: GuestPhysAddr,
    readonly avail: GuestPhysAddr,
    readonly used: GuestPhysAddr,
  ) {}

  writeDesc(i: number, x: RawDescriptor, table = this.desc): void {
    const at = table + i * DESC_SIZE;
    this.d.mem.writeU64(at, BigInt(x.addr));
    this.d.mem.writeU32(at + 8, x.len);
    this.d.mem.writeU16(at + 12, x.flags);
    this.d.mem.writeU16(at + 14, x.next);
  }

  /** Puts `head` in the available ring and bumps its index (no notification). */
  publish(head: number): void {
    this.d.mem.writeU16(this.avail + 4 + 2 * (this.availIdx % this.size), head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.d.mem.writeU16(this.avail + 2, this.availIdx);
  }

  setAvailFlags(flags: number): void {
    this.d.mem.writeU16(this.avail, flags);
  }

  /** Raw available index (for malformed-state tests). */
  setAvailIdx(idx: number): void {
    this.availIdx = idx & 0xffff;
    this.d.mem.writeU16(this.avail + 2, this.availIdx);
  }

  /** Builds a chain from `buffers` (direct, or as one indirect table) and publishes it. */
  add(buffers: readonly BufferSpec[], opts: { indirect?: boolean; publish?: boolean } = {}): AddedChain {
    const placed = buffers.map((b) => {
      const len = b.data?.length ?? b.len ?? 0;
      const addr = this.d.alloc(Math.max(len, 1), 8);
      if (b.data) this.d.mem.write(addr, b.data);
      return { addr, len, write: b.write ?? false };
    });
    const descs: RawDescriptor[] = placed.map((p, i) => ({
      addr: p.addr,
      len: p.len,
      flags: (p.write ? DESC_F_WRITE : 0) | (i < placed.length - 1 ? DESC_F_NEXT : 0),
      next: 0,
    }));
    let head: number;
    if (opts.indirect) {
      const table = this.d.alloc(DESC_SIZE * descs.length, 16);
      descs.forEach((x, i) => {
        this.writeDesc(i, { ...x, next: i + 1 < descs.length ? i + 1 : 0 }, table);
      });
      head = this.take();
      this.writeDesc(head, { addr: table, len: DESC_SIZE * descs.length, flags: DESC_F_INDIRECT, next: 0 });
    } else {
      const ids = descs.map(() => this.take());
      descs.forEach((x, i) => {
        this.writeDesc(ids[i]!, { ...x, next: ids[i + 1] ?? 0 });
      });
      head = ids[0]!;
    }
    if (opts.publish ?? true) this.publish(head);
    return { head, buffers: placed };
  }

  /** A free descriptor slot (round robin: tests complete chains before reusing slots). */
  take(): number {
    const i = this.nextDesc;
    this.nextDesc = (this.nextDesc + 1) % this.size;
    return i;
  }

  kick(): void {
    this.d.setReg(Reg.QueueNotify, this.index);
  }

  get usedIdx(): number {
    return this.d.mem.readU32(this.used) >>> 16;
  }

  /** Used elements the device added since the last call. */
  takeUsed(): UsedElement[] {
    const out: UsedElement[] = [];
    const idx = this.usedIdx;
    while (this.lastUsed !== idx) {
      const at = this.used + 4 + 8 * (this.lastUsed % this.size);
      out.push({ id: this.d.mem.readU32(at), len: this.d.mem.readU32(at + 4) });
      this.lastUsed = (this.lastUsed + 1) & 0xffff;
    }
    return out;
  }

  read(addr: GuestPhysAddr, len: number): Uint8Array {
    return this.d.mem.read(addr, len);
  }
}

import { afterEach, describe, expect, it } from 'vitest';
import { AVAIL_F_NO_INTERRUPT, F_INDIRECT_DESC, F_VERSION_1, INT_CONFIG_CHANGE, INT_USED_BUFFER, MMIO_MAGIC, Reg, Status, VENDOR_ID, VIRTIO_MMIO_SIZE } from './constants.ts';
import type { VirtioDevice } from './device.ts';
import { GuestInputError } from './errors.ts';
import { MmioTransport } from './mmio.ts';
import type { SplitQueue } from './queue.ts';
import { createTransportState } from './state.ts';
import { TestDriver } from './testing/driver.ts';
import { testEnv, type TestEnv } from './testing/fixture.ts';

const F_DEMO = 1n << 3n;
const ALL = Status.Acknowledge | Status.Driver | Status.FeaturesOk | Status.DriverOk;

/** Queue 0: each chain is returned with its readable length; throws on demand. */
class StubDevice implements VirtioDevice {
  readonly deviceId = 42;
  readonly queueMaxSizes = [8, 4];
  readonly features = F_DEMO;
  readonly config = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
  processed: number[] = [];
  resets = 0;
  throwing: unknown;
  maxChainBytes(): number {
    return 4096;
  }
  process(q: SplitQueue): void {
    this.processed.push(q.index);
    if (this.throwing !== undefined) throw this.throwing;
    for (let c = q.pop(); c; c = q.pop()) q.addUsed(c.head, c.readableLen);
  }
  reset(): void {
    this.resets++;
  }
}

let t: TestEnv;
afterEach(() => t.memory.release());

function setup(): { dev: StubDevice; mmio: MmioTransport; drv: TestDriver } {
  t = testEnv();
  const dev = new StubDevice();
  const mmio = new MmioTransport(0xd000_0000, createTransportState(dev.queueMaxSizes), dev, t.memory, t.env);
  return { dev, mmio, drv: new TestDriver(t.memory, mmio) };
}

describe('MmioTransport', () => {
  it('identifies as a version 2 virtio-mmio device of the model type', () => {
    const { mmio, drv } = setup();
    expect(mmio.size).toBe(VIRTIO_MMIO_SIZE);
    expect(drv.reg(Reg.MagicValue)).toBe(MMIO_MAGIC);
    expect(drv.reg(Reg.Version)).toBe(2);
    expect(drv.reg(Reg.DeviceId)).toBe(42);
    expect(drv.reg(Reg.VendorId)).toBe(VENDOR_ID);
  });

  it('offers the device features plus VERSION_1 and INDIRECT_DESC, 32 bits per select', () => {
    const { drv } = setup();
    expect(drv.deviceFeatures()).toBe(F_DEMO | F_INDIRECT_DESC | F_VERSION_1);
    drv.setReg(Reg.DeviceFeaturesSel, 2);
    expect(drv.reg(Reg.DeviceFeatures)).toBe(0);
  });

  it('accepts FEATURES_OK for a subset that includes VERSION_1', () => {
    const { mmio, drv } = setup();
    expect(drv.negotiate(F_VERSION_1 | F_DEMO) & Status.FeaturesOk).toBe(Status.FeaturesOk);
    expect(mmio.negotiated).toBe(F_VERSION_1 | F_DEMO);
  });

  it('refuses FEATURES_OK without VERSION_1', () => {
    const { drv } = setup();
    expect(drv.negotiate(F_DEMO) & Status.FeaturesOk).toBe(0);
  });

  it('refuses FEATURES_OK for a feature it did not offer', () => {
    const { drv } = setup();
    expect(drv.negotiate(F_VERSION_1 | (1n << 5n)) & Status.FeaturesOk).toBe(0);
  });

  it('refuses FEATURES_OK when the driver wrote feature bits past 63', () => {
    const { drv } = setup();
    drv.setReg(Reg.Status, Status.Acknowledge | Status.Driver);
    drv.setReg(Reg.DriverFeaturesSel, 2);
    drv.setReg(Reg.DriverFeatures, 1);
    drv.setReg(Reg.DriverFeaturesSel, 1);
    drv.setReg(Reg.DriverFeatures, 1);
    drv.setReg(Reg.Status, Status.Acknowledge | Status.Driver | Status.FeaturesOk);
    expect(drv.status & Status.FeaturesOk).toBe(0);
  });

  it('ignores driver feature writes once FEATURES_OK is set', () => {
    const { mmio, drv } = setup();
    drv.negotiate(F_VERSION_1);
    drv.setReg(Reg.DriverFeaturesSel, 0);
    drv.setReg(Reg.DriverFeatures, 1 << 3);
    expect(mmio.negotiated).toBe(F_VERSION_1);
  });

  it('reports QueueNumMax per queue and 0 for queues it does not have', () => {
    const { drv } = setup();
    for (const [q, max] of [
      [0, 8],
      [1, 4],
      [2, 0],
      [0xffff, 0],
    ] as const) {
      drv.setReg(Reg.QueueSel, q);
      expect(drv.reg(Reg.QueueNumMax)).toBe(max);
    }
  });

  it('reads QueueReady back, deactivates on 0, and freezes queue registers while ready', () => {
    const { drv } = setup();
    drv.negotiate(F_VERSION_1);
    const q = drv.setupQueue(0, 8);
    expect(drv.reg(Reg.QueueReady)).toBe(1);
    drv.setReg(Reg.QueueDescLow, 0x5000);
    expect(drv.reg(Reg.QueueDescLow)).toBe(q.desc);
    drv.setReg(Reg.QueueReady, 0);
    expect(drv.reg(Reg.QueueReady)).toBe(0);
    drv.setReg(Reg.QueueDescLow, 0x5000);
    expect(drv.reg(Reg.QueueDescLow)).toBe(0x5000);
  });

  it.each([
    ['a size that is not a power of two', { num: 6 }],
    ['a size above QueueNumMax', { num: 16 }],
    ['size 0', { num: 0 }],
    ['a misaligned descriptor table', { desc: 0x2008 }],
    ['a misaligned used ring', { used: 0x4002 }],
    ['an available ring outside RAM', { avail: 0x10_0000 - 4 }],
    ['a descriptor table above 4 GiB', { descHigh: 1 }],
  ] as Array<[string, Partial<Record<'num' | 'desc' | 'descHigh' | 'avail' | 'used', number>>]>)('needs a reset when QueueReady is set with %s', (_, bad) => {
    const { mmio, drv } = setup();
    drv.negotiate(F_VERSION_1);
    drv.setReg(Reg.QueueSel, 0);
    drv.setReg(Reg.QueueNum, bad.num ?? 8);
    drv.setReg(Reg.QueueDescLow, bad.desc ?? 0x2000);
    drv.setReg(Reg.QueueDescHigh, bad.descHigh ?? 0);
    drv.setReg(Reg.QueueDriverLow, bad.avail ?? 0x3000);
    drv.setReg(Reg.QueueDeviceLow, bad.used ?? 0x4000);
    drv.setReg(Reg.QueueReady, 1);
    expect(drv.reg(Reg.QueueReady)).toBe(0);
    expect(drv.status & Status.NeedsReset).toBe(Status.NeedsReset);
    expect(drv.reg(Reg.InterruptStatus) & INT_CONFIG_CHANGE).toBe(INT_CONFIG_CHANGE);
    expect(mmio.fault).toBe('queue-layout');
    expect(t.irqs()).toBe(1);
    expect(t.reasons).toHaveLength(1);
  });

  it('processes a notified queue, returns used buffers and raises a used-buffer interrupt', () => {
    const { dev, drv } = setup();
    const [q0] = drv.start([8, 4]);
    dev.processed = [];
    q0!.add([{ data: new Uint8Array(5) }, { len: 3, write: true }]);
    q0!.kick();
    expect(dev.processed).toEqual([0]);
    expect(q0!.takeUsed()).toEqual([{ id: 0, len: 5 }]);
    expect(drv.reg(Reg.InterruptStatus)).toBe(INT_USED_BUFFER);
    expect(t.irqs()).toBe(1);
    drv.setReg(Reg.InterruptAck, INT_USED_BUFFER);
    expect(drv.reg(Reg.InterruptStatus)).toBe(0);
  });

  it('sends no interrupt while the driver sets VRING_AVAIL_F_NO_INTERRUPT', () => {
    const { drv } = setup();
    const [q0] = drv.start([8, 4]);
    q0!.setAvailFlags(AVAIL_F_NO_INTERRUPT);
    q0!.add([{ data: new Uint8Array(1) }]);
    q0!.kick();
    expect(q0!.takeUsed()).toHaveLength(1);
    expect(t.irqs()).toBe(0);
    expect(drv.reg(Reg.InterruptStatus)).toBe(0);
  });

  it('ignores notifications before DRIVER_OK and catches up when it is set', () => {
    const { dev, drv } = setup();
    drv.negotiate(F_VERSION_1);
    const q0 = drv.setupQueue(0, 8);
    q0.add([{ data: new Uint8Array(2) }]);
    q0.kick();
    expect(dev.processed).toEqual([]);
    drv.setReg(Reg.Status, ALL);
    expect(dev.processed).toEqual([0]);
    expect(q0.takeUsed()).toEqual([{ id: 0, len: 2 }]);
  });

  it('ignores notifications of queues it has that are not ready', () => {
    const { dev, mmio, drv } = setup();
    drv.start([8]);
    dev.processed = [];
    drv.setReg(Reg.QueueNotify, 1);
    expect(dev.processed).toEqual([]);
    expect(mmio.fault).toBeUndefined();
  });

  it.each([2, 0xffff, 0x1_0000])('needs a reset (queue-index) on a notification of queue %i, which it does not have', (index) => {
    const { dev, mmio, drv } = setup();
    const [q0] = drv.start([8, 4]);
    dev.processed = [];
    q0!.add([{ data: new Uint8Array(1) }]); // 0x1_0000 must not reach queue 0 through its low 16 bits
    drv.setReg(Reg.QueueNotify, index);
    expect(dev.processed).toEqual([]);
    expect(drv.status).toBe(ALL | Status.NeedsReset);
    expect(mmio.fault).toBe('queue-index');
    expect(drv.reg(Reg.InterruptStatus)).toBe(INT_CONFIG_CHANGE);
    expect(t.reasons).toEqual([`queue-index: notify of queue ${index}; the device has 2`]);
  });

  it('ignores queue register writes, QueueReady included, while QueueSel names a queue it does not have', () => {
    const { mmio, drv } = setup();
    drv.negotiate(F_VERSION_1);
    drv.setReg(Reg.QueueSel, 2);
    drv.setReg(Reg.QueueNum, 4);
    drv.setReg(Reg.QueueDescLow, 0x2000);
    drv.setReg(Reg.QueueReady, 1);
    expect(drv.reg(Reg.QueueNum)).toBe(0);
    expect(drv.reg(Reg.QueueDescLow)).toBe(0);
    expect(drv.reg(Reg.QueueReady)).toBe(0);
    expect(drv.status & Status.NeedsReset).toBe(0);
    expect(mmio.fault).toBeUndefined();
  });

  it('resets everything on a status write of 0', () => {
    const { dev, mmio, drv } = setup();
    const [q0] = drv.start([8, 4]);
    q0!.add([{ data: new Uint8Array(2) }]);
    q0!.kick();
    dev.throwing = new GuestInputError('request', 'bad');
    q0!.kick();
    expect(drv.status & Status.NeedsReset).toBe(Status.NeedsReset);
    const before = dev.resets;
    drv.setReg(Reg.Status, 0);
    expect(dev.resets).toBe(before + 1);
    expect(drv.status).toBe(0);
    expect(drv.reg(Reg.InterruptStatus)).toBe(0);
    expect(drv.reg(Reg.QueueReady)).toBe(0);
    expect(mmio.fault).toBeUndefined();
    expect(mmio.negotiated).toBe(0n);
    // and the device works again from scratch
    dev.throwing = undefined;
    const [again] = drv.start([8, 4]);
    again!.add([{ data: new Uint8Array(7) }]);
    again!.kick();
    expect(again!.takeUsed()).toEqual([{ id: 0, len: 7 }]);
  });

  it('enters needs-reset on malformed input, keeps the bit against driver writes, and stops processing', () => {
    const { dev, mmio, drv } = setup();
    const [q0] = drv.start([8, 4]);
    dev.processed = [];
    dev.throwing = new GuestInputError('descriptor-loop', 'loop');
    q0!.kick();
    expect(mmio.fault).toBe('descriptor-loop');
    expect(drv.status).toBe(ALL | Status.NeedsReset);
    expect(drv.reg(Reg.InterruptStatus)).toBe(INT_CONFIG_CHANGE);
    drv.setReg(Reg.Status, ALL);
    expect(drv.status & Status.NeedsReset).toBe(Status.NeedsReset);
    dev.throwing = undefined;
    q0!.kick();
    expect(dev.processed).toEqual([0]);
    expect(t.reasons).toEqual(['descriptor-loop: loop']);
  });

  it('turns any other exception from the device into needs-reset (internal)', () => {
    const { dev, mmio, drv } = setup();
    const [q0] = drv.start([8, 4]);
    dev.throwing = new TypeError('boom');
    expect(() => q0!.kick()).not.toThrow();
    expect(mmio.fault).toBe('internal');
  });

  it('catches a GuestMemory error (RAM already unmapped) as needs-reset, internal', () => {
    const { mmio, drv } = setup();
    const [q0] = drv.start([8, 4]);
    q0!.add([{ data: new Uint8Array(2) }]);
    t.memory.release(); // e.g. a late exit while the VM is torn down
    expect(() => mmio.write(Reg.QueueNotify, new Uint8Array(4))).not.toThrow();
    expect(mmio.status & Status.NeedsReset).toBe(Status.NeedsReset);
    expect(mmio.fault).toBe('internal');
    expect(t.reasons[0]).toMatch(/released/);
  });

  it('does not let the driver set DEVICE_NEEDS_RESET', () => {
    const { drv } = setup();
    drv.setReg(Reg.Status, Status.Acknowledge | Status.NeedsReset);
    expect(drv.status).toBe(Status.Acknowledge);
  });

  it('reads configuration space at any width and zeros past its end; ignores writes', () => {
    const { drv } = setup();
    expect([...drv.config(0, 1)]).toEqual([1]);
    expect([...drv.config(2, 2)]).toEqual([3, 4]);
    expect([...drv.config(4, 4)]).toEqual([5, 6, 7, 8]);
    expect([...drv.config(6, 8)]).toEqual([7, 8, 9, 10, 0, 0, 0, 0]);
    drv.dev.write(Reg.Config, Uint8Array.of(0xff));
    expect([...drv.config(0, 1)]).toEqual([1]);
  });

  it('reads 0 for narrow or misaligned register accesses and ignores such writes', () => {
    const { drv } = setup();
    const b = Uint8Array.of(0xaa, 0xaa);
    drv.dev.read(Reg.MagicValue, b);
    expect([...b]).toEqual([0, 0]);
    const w = new Uint8Array(4);
    drv.dev.read(Reg.MagicValue + 1, w);
    expect([...w]).toEqual([0, 0, 0, 0]);
    drv.dev.write(Reg.Status, Uint8Array.of(Status.Acknowledge));
    expect(drv.status).toBe(0);
  });

  it('reports no shared memory regions (length -1)', () => {
    const { drv } = setup();
    drv.setReg(Reg.ShmSel, 0);
    expect(drv.reg(Reg.ShmLenLow)).toBe(0xffff_ffff);
    expect(drv.reg(Reg.ShmLenHigh)).toBe(0xffff_ffff);
  });

  it('shares all state between instances over the same SharedArrayBuffer (one per thread)', () => {
    const { dev, mmio, drv } = setup();
    const [q0] = drv.start([8, 4]);
    const other = new MmioTransport(mmio.base, (mmio as unknown as { s: Int32Array }).s.buffer as SharedArrayBuffer, dev, t.memory, t.env);
    q0!.add([{ data: new Uint8Array(3) }]);
    other.write(Reg.QueueNotify, Uint8Array.of(0, 0, 0, 0));
    expect(q0!.takeUsed()).toEqual([{ id: 0, len: 3 }]);
    q0!.add([{ data: new Uint8Array(4) }]);
    q0!.kick();
    expect(q0!.takeUsed()).toEqual([{ id: 1, len: 4 }]);
    expect(other.status).toBe(ALL);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { DeviceId, F_INDIRECT_DESC, Reg, Status } from '../constants.ts';
import { TestDriver } from '../testing/driver.ts';
import { testEnv, type TestEnv } from '../testing/fixture.ts';
import { RECEIVEQ, TRANSMITQ, VirtioConsole } from './device.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

let t: TestEnv;
afterEach(() => t.memory.release());

function setup(opts: { outputCapacity?: number } = {}) {
  t = testEnv();
  const con = VirtioConsole.create({ base: 0xd000_0000, ...opts }, t.env);
  const drv = new TestDriver(t.memory, con.mmio);
  return { con, drv };
}

describe('VirtioConsole', () => {
  it('is device 3 with two queues and a 12-byte zero config', () => {
    const { drv } = setup();
    expect(drv.reg(Reg.DeviceId)).toBe(DeviceId.Console);
    for (const q of [RECEIVEQ, TRANSMITQ]) {
      drv.setReg(Reg.QueueSel, q);
      expect(drv.reg(Reg.QueueNumMax)).toBe(256);
    }
    drv.setReg(Reg.QueueSel, 2);
    expect(drv.reg(Reg.QueueNumMax)).toBe(0);
    expect([...drv.config(0, 12)]).toEqual(new Array(12).fill(0));
  });

  it('captures guest output from transmitq chains, across buffers and indirect tables', () => {
    const { con, drv } = setup();
    const [, tx] = drv.start([16, 16], F_INDIRECT_DESC);
    tx!.add([{ data: enc('hello ') }, { data: enc('from ') }]);
    tx!.add([{ data: enc('hvc0\n') }], { indirect: true });
    tx!.kick();
    expect(dec(con.drainOutput())).toBe('hello from hvc0\n');
    expect(tx!.takeUsed().map((u) => u.len)).toEqual([0, 0]);
    expect(t.irqs()).toBe(1);
  });

  it('delivers host input as soon as the guest offers receive buffers', () => {
    const { con, drv } = setup();
    const [rx] = drv.start([16, 16]);
    expect(con.inject(enc('ls\n'))).toBe(3); // no buffers yet: waits
    expect(rx!.takeUsed()).toEqual([]);
    const a = rx!.add([{ len: 2, write: true }]);
    const b = rx!.add([{ len: 64, write: true }]);
    rx!.kick();
    expect(rx!.takeUsed()).toEqual([
      { id: a.head, len: 2 },
      { id: b.head, len: 1 },
    ]);
    expect(dec(rx!.read(a.buffers[0]!.addr, 2)) + dec(rx!.read(b.buffers[0]!.addr, 1))).toBe('ls\n');
  });

  it('fills waiting receive buffers when the host injects, and interrupts', () => {
    const { con, drv } = setup();
    const [rx] = drv.start([16, 16]);
    const a = rx!.add([{ len: 16, write: true }]);
    rx!.kick();
    expect(rx!.takeUsed()).toEqual([]);
    const before = t.irqs();
    con.inject(enc('echo hi\n'));
    expect(rx!.takeUsed()).toEqual([{ id: a.head, len: 8 }]);
    expect(dec(rx!.read(a.buffers[0]!.addr, 8))).toBe('echo hi\n');
    expect(t.irqs()).toBe(before + 1);
  });

  it('drops injected bytes that do not fit the input ring', () => {
    t = testEnv();
    const con = VirtioConsole.create({ base: 0, inputCapacity: 4 }, t.env);
    expect(con.inject(enc('abcdef'))).toBe(4);
  });

  it('holds output that does not fit until the host drains, without blocking', () => {
    const { con, drv } = setup({ outputCapacity: 8 });
    const [, tx] = drv.start([16, 16]);
    tx!.add([{ data: enc('123456') }]);
    tx!.add([{ data: enc('abcdef') }]);
    tx!.kick();
    expect(tx!.takeUsed()).toHaveLength(1);
    expect(dec(con.drainOutput())).toBe('123456');
    expect(tx!.takeUsed()).toHaveLength(1); // resumed by the drain
    expect(dec(con.drainOutput())).toBe('abcdef');
  });

  it('needs a reset when a transmit chain is larger than the output ring', () => {
    const { con, drv } = setup({ outputCapacity: 8 });
    const [, tx] = drv.start([16, 16]);
    tx!.add([{ data: enc('123456789') }]);
    tx!.kick();
    expect(drv.status & Status.NeedsReset).toBe(Status.NeedsReset);
    expect(con.mmio.fault).toBe('chain-length');
  });

  it('needs a reset when a receive buffer has no writable space', () => {
    const { con, drv } = setup();
    const [rx] = drv.start([16, 16]);
    rx!.add([{ data: enc('x') }]);
    con.inject(enc('y'));
    expect(con.mmio.fault).toBe('request');
  });

  it('serves the same console from several instances over one shared state', () => {
    const { con, drv } = setup();
    const other = new VirtioConsole(con.shared, t.env);
    const [, tx] = drv.start([16, 16]);
    tx!.add([{ data: enc('A') }]);
    other.mmio.write(Reg.QueueNotify, Uint8Array.of(TRANSMITQ, 0, 0, 0));
    tx!.add([{ data: enc('B') }]);
    tx!.kick();
    expect(dec(con.drainOutput())).toBe('AB');
  });
});

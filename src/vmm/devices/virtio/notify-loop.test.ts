import { afterEach, describe, expect, it } from 'vitest';
import { close, EFD_CLOEXEC, EFD_NONBLOCK, eventfd, eventfdDrain, eventfdSignal } from '../../sys/libc.ts';
import { RECEIVEQ, TRANSMITQ, VirtioConsole } from './console/device.ts';
import { serveQueueNotifies } from './notify-loop.ts';
import { TestDriver } from './testing/driver.ts';
import { testEnv, type TestEnv } from './testing/fixture.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

let t: TestEnv;
let fds: number[] = [];
afterEach(() => {
  t.memory.release();
  for (const fd of fds) close(fd);
  fds = [];
});

const newFd = () => {
  const fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  fds.push(fd);
  return fd;
};

/** A started virtio-console whose queue notifies go to eventfds, as KVM_IOEVENTFD wires them. */
function setup() {
  t = testEnv();
  const con = VirtioConsole.create({ base: 0xd000_0000 }, t.env);
  const drv = new TestDriver(t.memory, con.mmio);
  const [rx, tx] = drv.start([16, 16]);
  const notify = [newFd(), newFd()];
  const irqFd = newFd();
  const stopFd = newFd();
  const wiring = { console: { shared: con.shared, irqFd, notifyFds: notify }, blk: [] };
  const serve = () => serveQueueNotifies(wiring, t.memory, stopFd);
  return { con, rx: rx!, tx: tx!, notify, irqFd, stopFd, serve };
}

describe('serveQueueNotifies (the device thread)', () => {
  it('works the queue whose eventfd a guest notify signalled, raises its irqfd, and ends on the stop eventfd', () => {
    const s = setup();
    s.tx.add([{ data: enc('from the device thread\n') }]);
    eventfdSignal(s.notify[TRANSMITQ]!); // what KVM does on the guest's QueueNotify write of 1
    eventfdSignal(s.stopFd);
    expect(s.serve()).toEqual({ notifies: 1 });
    expect(dec(s.con.drainOutput())).toBe('from the device thread\n');
    expect(s.tx.takeUsed()).toHaveLength(1);
    expect(eventfdDrain(s.irqFd)).toBe(1n);
  });

  it('folds notifies that piled up into one pass over the queue', () => {
    const s = setup();
    s.tx.add([{ data: enc('a') }]);
    eventfdSignal(s.notify[TRANSMITQ]!);
    s.tx.add([{ data: enc('b') }]);
    eventfdSignal(s.notify[TRANSMITQ]!);
    eventfdSignal(s.stopFd);
    expect(s.serve()).toEqual({ notifies: 1 });
    expect(dec(s.con.drainOutput())).toBe('ab');
    expect(s.tx.takeUsed()).toHaveLength(2);
  });

  it('leaves a queue nobody notified alone', () => {
    const s = setup();
    s.tx.add([{ data: enc('unnotified') }]);
    eventfdSignal(s.notify[RECEIVEQ]!);
    eventfdSignal(s.stopFd);
    expect(s.serve()).toEqual({ notifies: 1 });
    expect(s.con.drainOutput()).toHaveLength(0);
    expect(s.tx.takeUsed()).toEqual([]);
    expect(s.rx.takeUsed()).toEqual([]);
  });
});

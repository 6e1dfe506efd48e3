// Several threads drive one device through its shared state, as vCPU threads do: every chain
// is used exactly once, in order, and the guest sees nothing torn.
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { Status } from './constants.ts';
import { TRANSMITQ, VirtioConsole } from './console/device.ts';
import { RXQ, VirtioNet, NET_HDR_BYTES } from './net/device.ts';
import { TestDriver } from './testing/driver.ts';
import { testEnv, type TestEnv } from './testing/fixture.ts';
import type { ThreadWorkerData } from './testing/thread-worker.ts';

const THREADS = 3;
const DEADLINE_MS = 60_000;
let t: TestEnv;
let workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.map((w) => w.terminate()));
  workers = [];
  t.memory.release();
});

async function startWorkers(data: Omit<ThreadWorkerData, 'control'>): Promise<Int32Array> {
  const control = new SharedArrayBuffer(12);
  const ready = Array.from({ length: THREADS }, () => {
    const w = new Worker(new URL('./testing/thread-worker.mjs', import.meta.url), { workerData: { ...data, control } });
    workers.push(w);
    return new Promise<void>((resolve, reject) => {
      w.once('message', () => resolve());
      w.once('error', reject);
    });
  });
  await Promise.all(ready);
  return new Int32Array(control);
}

async function stopWorkers(control: Int32Array): Promise<void> {
  Atomics.store(control, 0, 1);
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('exit', resolve))));
  workers = [];
}

const tag = (i: number) => Uint8Array.of(i & 0xff, (i >> 8) & 0xff, (i >> 16) & 0xff, 0xee);

describe('virtio devices across threads', () => {
  it('console: transmit chains notified from three threads come out once each, in order', { timeout: 120_000 }, async () => {
    t = testEnv();
    const con = VirtioConsole.create({ base: 0, outputCapacity: 4096 }, t.env);
    const drv = new TestDriver(t.memory, con.mmio);
    const [, tx] = drv.start([64, 64]);
    const control = await startWorkers({ kind: 'console', shared: con.shared, regions: t.memory.regions, queue: TRANSMITQ });
    const N = 2000;
    const out: number[] = [];
    const heads: number[] = [];
    const ids: number[] = [];
    let sent = 0;
    let done = 0;
    const t0 = Date.now();
    while (done < N && Date.now() - t0 < DEADLINE_MS) {
      while (sent < N && sent - done < tx!.size) {
        heads.push(tx!.add([{ data: tag(sent) }]).head);
        sent++;
      }
      const used = tx!.takeUsed();
      ids.push(...used.map((u) => u.id));
      done += used.length;
      out.push(...con.drainOutput()); // the host side takes the lock too (stalls resume here)
    }
    await stopWorkers(control);
    out.push(...con.drainOutput());
    expect(done).toBe(N);
    expect(ids).toEqual(heads);
    expect(out.length).toBe(4 * N);
    const expected = Array.from({ length: N }, (_, i) => [...tag(i)]).flat();
    expect(out).toEqual(expected);
    expect(con.mmio.status & Status.NeedsReset).toBe(0);
    expect(Atomics.load(control, 2)).toBeGreaterThan(0);
  });

  it('net: frames injected by the host reach buffers that three threads notify, once each, in order', { timeout: 120_000 }, async () => {
    t = testEnv();
    const net = VirtioNet.create({ base: 0, ringCapacity: 1 << 14 }, t.env);
    const drv = new TestDriver(t.memory, net.mmio);
    const [rx] = drv.start([64, 64]);
    const control = await startWorkers({ kind: 'net', shared: net.shared, regions: t.memory.regions, queue: RXQ });
    const N = 1500;
    const posted = new Map<number, number>(); // head -> buffer address
    const got: number[] = [];
    let injected = 0;
    const t0 = Date.now();
    while (got.length < N && Date.now() - t0 < DEADLINE_MS) {
      while (posted.size < rx!.size) {
        const c = rx!.add([{ len: NET_HDR_BYTES + 64, write: true }]);
        posted.set(c.head, c.buffers[0]!.addr);
      }
      const frame = new Uint8Array(60).fill(0xaa);
      frame.set(tag(injected));
      if (injected < N && net.inject(frame)) injected++;
      for (const u of rx!.takeUsed()) {
        const frame = rx!.read(posted.get(u.id)! + NET_HDR_BYTES, u.len - NET_HDR_BYTES);
        got.push(frame[0]! | (frame[1]! << 8) | (frame[2]! << 16));
        posted.delete(u.id);
      }
    }
    await stopWorkers(control);
    expect(got).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(net.stats).toMatchObject({ rxFrames: N, rxDropped: 0 });
    expect(net.mmio.status & Status.NeedsReset).toBe(0);
  });
});

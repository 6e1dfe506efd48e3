import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { EXIT_KIND_SLOT, WATCH_SLOTS, WatchpointLatch, type ArmedSlot } from './latch.ts';

function counted() {
  const edges: number[] = [];
  const latch = WatchpointLatch.create({ onEdge: (slot) => edges.push(slot) });
  return { latch, edges };
}

describe('WatchpointLatch latching', () => {
  it('fires exactly one edge per slot however often it is latched', () => {
    const { latch, edges } = counted();
    expect(latch.latch(2, 5)).toBe(true);
    expect(latch.latch(2, 5)).toBe(false);
    expect(latch.latch(2, 6)).toBe(false);
    expect(edges).toEqual([2]);
    expect(latch.hit(2)).toEqual({ vcpu: 5, value: 0n });
    expect(latch.latch(1, 0)).toBe(true);
    expect(edges).toEqual([2, 1]);
    expect(latch.hitSlots()).toEqual([1, 2]);
  });

  it('ignores out-of-range slots without throwing', () => {
    const { latch, edges } = counted();
    for (const slot of [-1, 4, 99, 1.5, Number.NaN]) expect(latch.latch(slot, 0)).toBe(false);
    expect(edges).toEqual([]);
    expect(latch.hitSlots()).toEqual([]);
    expect(latch.hit(99)).toBeUndefined();
  });

  it('rejects an invalid vCPU index', () => {
    const { latch } = counted();
    expect(() => latch.latch(1, -1)).toThrow('bad vCPU index -1');
  });

  it("applies a slot's rule: below latchFrom is no hit (a clean exit kind), from it up latches with the value", () => {
    const { latch, edges } = counted();
    for (const kind of [0n, 1n, 2n, 64n, 1023n]) expect(latch.offer(EXIT_KIND_SLOT, 0, kind, { latchFrom: 1024n })).toBe(false);
    expect(edges).toEqual([]);
    expect(latch.hit(EXIT_KIND_SLOT)).toBeUndefined();
    expect(latch.offer(EXIT_KIND_SLOT, 3, 1024n, { latchFrom: 1024n })).toBe(true);
    expect(latch.offer(EXIT_KIND_SLOT, 4, 1025n, { latchFrom: 1024n })).toBe(false);
    expect(edges).toEqual([0]);
    expect(latch.hit(0)).toEqual({ vcpu: 3, value: 1024n });
    // Without a rule any write latches.
    expect(latch.offer(1, 2, 0n)).toBe(true);
  });

  it('ends a watch at its endAt value (a scheduler torn down): later writes there are not hits until it is armed anew', () => {
    const { latch, edges } = counted();
    const exitKind = { address: 0xffff_8880_0123_4000n, len: 4 as const, on: 'write' as const, latchFrom: 1024n, endAt: 1n };
    const other = { address: 0x2000n, len: 8 as const, on: 'write' as const };
    latch.publish([exitKind]);
    const rule = latch.readArmed().slots[0]!;
    expect(rule).toMatchObject({ latchFrom: 1024n, endAt: 1n });
    expect(latch.offer(EXIT_KIND_SLOT, 0, 64n, rule)).toBe(false); // unreg, then DONE: a clean end
    expect(latch.offer(EXIT_KIND_SLOT, 0, 1n, rule)).toBe(false);
    expect(latch.offer(EXIT_KIND_SLOT, 1, 0xdead_beefn, rule)).toBe(false); // freed memory reused
    latch.publish([exitKind, other]); // another slot armed meanwhile: still ended
    expect(latch.offer(EXIT_KIND_SLOT, 1, 2000n, rule)).toBe(false);
    expect(edges).toEqual([]);
    // Disarmed, then armed on the next scheduler (even at the same address): watching again.
    latch.publish([undefined, other]);
    latch.publish([exitKind, other]);
    expect(latch.offer(EXIT_KIND_SLOT, 1, 1025n, rule)).toBe(true);
    expect(latch.hit(EXIT_KIND_SLOT)).toEqual({ vcpu: 1, value: 1025n });
  });

  // The race publish now avoids (a vCPU ending a kept watch while the host re-publishes, its
  // END store undoing the vCPU's compareExchange) is not reproduced here: publish no longer writes
  // a kept END at all. This checks the one case that still writes it at the same address.
  it('a watch armed without an end rule and re-published with one at the same address takes the rule', () => {
    const { latch } = counted();
    const plain = { address: 0x3000n, len: 4 as const, on: 'write' as const };
    latch.publish([plain]);
    latch.publish([{ ...plain, endAt: 1n }]);
    const rule = latch.readArmed().slots[0]!;
    expect(rule.endAt).toBe(1n);
    expect(latch.offer(0, 0, 1n, rule)).toBe(false);
    expect(latch.offer(0, 0, 7n, rule)).toBe(false); // ended
  });

  it('keeps values unsigned at their full width (a 64-bit jiffies near the top)', () => {
    const { latch } = counted();
    expect(latch.latch(1, 0, 0xffff_ffff_fffe_e748n)).toBe(true);
    expect(latch.hit(1)).toEqual({ vcpu: 0, value: 0xffff_ffff_fffe_e748n });
    expect(latch.latch(2, 0, -1n)).toBe(true);
    expect(latch.hit(2)!.value).toBe(0xffff_ffff_ffff_ffffn);
  });

  it('shares hits between views of the same buffer, each with its own edge callback', () => {
    const a = counted();
    const bEdges: number[] = [];
    const b = new WatchpointLatch(a.latch.sab, { onEdge: (s) => bEdges.push(s) });
    expect(b.latch(3, 7)).toBe(true);
    expect(a.latch.latch(3, 1)).toBe(false);
    expect(a.latch.hit(3)).toEqual({ vcpu: 7, value: 0n });
    expect(bEdges).toEqual([3]);
    expect(a.edges).toEqual([]);
  });

  it('refuses a buffer that is too small or not shared', () => {
    expect(() => new WatchpointLatch(new SharedArrayBuffer(16))).toThrow('at least');
    expect(() => new WatchpointLatch(new ArrayBuffer(WatchpointLatch.BYTES) as unknown as SharedArrayBuffer)).toThrow('SharedArrayBuffer');
  });
});

describe('WatchpointLatch armed set', () => {
  const exitKind: ArmedSlot = { address: 0xffff_ffff_8234_5678n, len: 4, on: 'write', valueGpa: 0x2345_6678n };
  const user: ArmedSlot = { address: 0xffff_8880_0000_1000n, len: 8, on: 'readwrite' };

  it('starts unarmed at generation 0 with every slot empty', () => {
    const { latch } = counted();
    expect(latch.anyArmed).toBe(false);
    expect(latch.generation).toBe(0);
    expect(latch.readArmed()).toEqual({ generation: 0, slots: [undefined, undefined, undefined, undefined] });
  });

  it('publishes slots exactly, opens the gate and bumps the generation', () => {
    const { latch } = counted();
    expect(latch.publish([exitKind, undefined, user])).toBe(2);
    expect(latch.anyArmed).toBe(true);
    expect(latch.generation).toBe(2);
    const view = new WatchpointLatch(latch.sab);
    expect(view.readArmed()).toEqual({ generation: 2, slots: [exitKind, undefined, user, undefined] });
    const frozen = { ...user, freeze: true };
    latch.publish([undefined, frozen]);
    expect(view.readArmed().slots).toEqual([undefined, frozen, undefined, undefined]);
  });

  it('disarms by publishing empty slots, keeping the gate open so workers re-arm', () => {
    const { latch } = counted();
    latch.publish([exitKind]);
    expect(latch.publish([])).toBe(4);
    expect(latch.anyArmed).toBe(true);
    expect(latch.readArmed().slots).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('rejects misaligned, oversized or malformed publications and leaves the set unchanged', () => {
    const { latch } = counted();
    expect(() => latch.publish([{ address: 0x1002n, len: 4, on: 'write' }])).toThrow('not aligned to its 4-byte length');
    expect(() => latch.publish([{ address: 0x1000n, len: 3 as 4, on: 'write' }])).toThrow('length 3');
    expect(() => latch.publish([{ address: 0x1000n, len: 4, on: 'read' as 'write' }])).toThrow("mode 'read'");
    expect(() => latch.publish(new Array(WATCH_SLOTS + 1).fill(undefined))).toThrow('4 watch slots, got 5');
    expect(latch.generation).toBe(0);
    expect(latch.anyArmed).toBe(false);
  });
});

// Two worker_threads race to latch the same slots of many fresh latches; each slot must
// see exactly one winner and one edge. The workers load latch.ts through tsx's API.
const RACE_WORKER = `
const { parentPort, workerData: d } = require('node:worker_threads');
(async () => {
  const api = await import(d.tsxApi);
  const { WatchpointLatch } = await api.tsImport(d.latchUrl, d.latchUrl);
  const arrive = new Int32Array(d.arrive), edges = new Int32Array(d.edges), wins = new Int32Array(d.wins);
  for (let i = 0; i < d.sabs.length; i++) {
    const latch = new WatchpointLatch(d.sabs[i], { onEdge: (slot) => Atomics.add(edges, i * 4 + slot, 1) });
    Atomics.add(arrive, i, 1);
    while (Atomics.load(arrive, i) < 2);
    for (let slot = 0; slot < 4; slot++) {
      const won = slot === 0 ? latch.offer(0, d.vcpu, BigInt(1024 + d.vcpu), { latchFrom: 1024n }) : latch.latch(slot, d.vcpu, BigInt(d.vcpu));
      if (won) Atomics.add(wins, i * 4 + slot, 1);
    }
  }
  parentPort.postMessage('done');
})().catch((e) => parentPort.postMessage(String(e && e.stack || e)));
`;

function runRacer(workerData: object): Promise<void> {
  return new Promise((resolve, reject) => {
    const w = new Worker(RACE_WORKER, { eval: true, workerData });
    w.once('message', (m) => {
      void w.terminate();
      if (m === 'done') resolve();
      else reject(new Error(String(m)));
    });
    w.once('error', reject);
  });
}

describe('WatchpointLatch across worker_threads', () => {
  it('gives exactly one winner and one edge when two threads latch the same slot at once', async () => {
    const rounds = 500;
    const latches = Array.from({ length: rounds }, () => WatchpointLatch.create());
    const shared = (n: number) => new SharedArrayBuffer(n * 4);
    const arrive = shared(rounds);
    const edges = shared(rounds * WATCH_SLOTS);
    const wins = shared(rounds * WATCH_SLOTS);
    const common = {
      tsxApi: import.meta.resolve('tsx/esm/api'),
      latchUrl: new URL('./latch.ts', import.meta.url).href,
      sabs: latches.map((l) => l.sab),
      arrive,
      edges,
      wins,
    };
    await Promise.all([runRacer({ ...common, vcpu: 0 }), runRacer({ ...common, vcpu: 1 })]);

    const edgeCounts = new Int32Array(edges);
    const winCounts = new Int32Array(wins);
    // Any count other than 1 means a lost or a doubled edge.
    expect([...edgeCounts].filter((n) => n !== 1)).toEqual([]);
    expect([...winCounts].filter((n) => n !== 1)).toEqual([]);
    for (const latch of latches) {
      const first = latch.hit(0);
      expect(first?.value).toBe(BigInt(1024 + (first?.vcpu ?? -1)));
      for (let slot = 1; slot < WATCH_SLOTS; slot++) {
        const hit = latch.hit(slot);
        expect([0, 1]).toContain(hit?.vcpu);
        expect(hit?.value).toBe(BigInt(hit?.vcpu ?? -1));
      }
    }
  }, 30_000);
});

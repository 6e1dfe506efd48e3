import { describe, expect, it } from 'vitest';
import { CoalescedRing, coalescedRingLock, type CoalescedWrite } from './coalesced-ring.ts';
import { kvmQueue } from './coalesced-ring.testing.ts';

const taken = (ring: CoalescedRing) => {
  const seen: Array<{ addr: number; pio: boolean; data: number[] }> = [];
  const n = ring.drain((w: CoalescedWrite) => seen.push({ addr: w.addr, pio: w.pio, data: [...w.data] }));
  return { n, seen };
};

describe('CoalescedRing', () => {
  it('hands over queued writes oldest first, each once, with their length', () => {
    const page = new Uint8Array(4096);
    const ring = new CoalescedRing(page, coalescedRingLock());
    expect(ring.capacity).toBe(170); // KVM_COALESCED_MMIO_MAX for 4 KiB pages
    expect(taken(ring)).toEqual({ n: 0, seen: [] });
    kvmQueue(page, 0x3f8, [0x41]);
    kvmQueue(page, 0x2f8, [0x42]);
    kvmQueue(page, 0xfee0_0000, [1, 2, 3, 4], false);
    expect(taken(ring)).toEqual({
      n: 3,
      seen: [
        { addr: 0x3f8, pio: true, data: [0x41] },
        { addr: 0x2f8, pio: true, data: [0x42] },
        { addr: 0xfee0_0000, pio: false, data: [1, 2, 3, 4] },
      ],
    });
    expect(taken(ring).n).toBe(0);
  });

  it('follows KVM round the end of the page, a full ring included', () => {
    const page = new Uint8Array(4096);
    const ring = new CoalescedRing(page, coalescedRingLock());
    let sent = 0;
    const got: number[] = [];
    for (let round = 0; round < 3; round++) {
      while (kvmQueue(page, 0x3f8, [sent & 0xff])) sent++;
      ring.drain((w) => got.push(w.data[0]!));
    }
    expect(sent).toBe(3 * 169);
    expect(got).toEqual(Array.from({ length: sent }, (_, i) => i & 0xff));
  });

  it('is found at its page of a vCPU mapping', () => {
    const run = new Uint8Array(3 * 4096);
    const ring = CoalescedRing.inRun(run, { pageOffset: 2, lock: coalescedRingLock() });
    kvmQueue(run.subarray(2 * 4096), 0x3f8, [0x7a]);
    expect(taken(ring).seen).toEqual([{ addr: 0x3f8, pio: true, data: [0x7a] }]);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { GuestMemory } from '../../memory.ts';
import { AVAIL_F_NO_INTERRUPT } from './constants.ts';
import { GuestInputError, type Fault } from './errors.ts';
import { SplitQueue } from './queue.ts';
import { createTransportState, Q_DESC_LO, Q_DEVICE_LO, Q_DRIVER_LO, Q_NEXT_AVAIL, Q_NEXT_USED, Q_NUM, queueBase, W_STALLED } from './state.ts';

const DESC = 0x1000,
  AVAIL = 0x2000,
  USED = 0x3000,
  SIZE = 4;
let mem: GuestMemory;
afterEach(() => mem.release());

function queue(): { q: SplitQueue; s: Int32Array } {
  mem = GuestMemory.allocate([{ gpa: 0, size: 0x10000 }]);
  const s = new Int32Array(createTransportState([SIZE]));
  const b = queueBase(0);
  s[b + Q_NUM] = SIZE;
  s[b + Q_DESC_LO] = DESC;
  s[b + Q_DRIVER_LO] = AVAIL;
  s[b + Q_DEVICE_LO] = USED;
  const q = new SplitQueue(s, 0, mem, 4096);
  q.activate();
  for (let i = 0; i < SIZE; i++) {
    mem.writeU64(DESC + 16 * i, 0x8000n + BigInt(i) * 0x100n);
    mem.writeU32(DESC + 16 * i + 8, 16 + i);
  }
  return { q, s };
}
function offer(heads: number[], from = 0): void {
  heads.forEach((h, i) => {
    mem.writeU16(AVAIL + 4 + 2 * ((from + i) % SIZE), h);
  });
  mem.writeU16(AVAIL + 2, (from + heads.length) & 0xffff);
}
function fault(fn: () => unknown): Fault | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof GuestInputError) return e.fault;
    throw e;
  }
  return undefined;
}

describe('SplitQueue', () => {
  it('pops available chains in ring order and nothing more', () => {
    const { q } = queue();
    offer([2, 0]);
    expect(q.pop()?.head).toBe(2);
    expect(q.pop()?.readable).toEqual([{ addr: 0x8000, len: 16 }]);
    expect(q.pop()).toBeUndefined();
  });

  it('writes the used element, then publishes the index', () => {
    const { q } = queue();
    offer([3]);
    q.addUsed(q.pop()!.head, 77);
    expect(mem.readU32(USED + 4)).toBe(3);
    expect(mem.readU32(USED + 8)).toBe(77);
    expect(mem.readU32(USED) >>> 16).toBe(1);
    expect(q.takeInterruptDue()).toBe(true);
    expect(q.takeInterruptDue()).toBe(false);
  });

  it('honours VRING_AVAIL_F_NO_INTERRUPT when deciding on an interrupt', () => {
    const { q } = queue();
    mem.writeU16(AVAIL, AVAIL_F_NO_INTERRUPT);
    offer([0]);
    q.addUsed(q.pop()!.head, 0);
    expect(q.takeInterruptDue()).toBe(false);
  });

  it('wraps its 16-bit indexes', () => {
    const { q, s } = queue();
    s[queueBase(0) + Q_NEXT_AVAIL] = 0xffff;
    s[queueBase(0) + Q_NEXT_USED] = 0xffff;
    offer([1, 2], 0xffff);
    expect(mem.readU32(AVAIL) >>> 16).toBe(1);
    const a = q.pop()!;
    const b = q.pop()!;
    expect([a.head, b.head]).toEqual([1, 2]);
    expect(q.pop()).toBeUndefined();
    q.addUsed(a.head, 1);
    q.addUsed(b.head, 2);
    expect(mem.readU32(USED) >>> 16).toBe(1);
    expect(mem.readU32(USED + 4 + 8 * (0xffff % SIZE))).toBe(1);
    expect(mem.readU32(USED + 4)).toBe(2);
  });

  it('gives back the last chain on unpop', () => {
    const { q } = queue();
    offer([1]);
    q.pop();
    q.unpop();
    expect(q.pop()?.head).toBe(1);
  });

  it('rejects an available index more than a queue ahead', () => {
    const { q } = queue();
    mem.writeU16(AVAIL + 2, SIZE + 1);
    expect(fault(() => q.pop())).toBe('avail-index');
  });

  it('rejects a head index past the table, without consuming it', () => {
    const { q, s } = queue();
    offer([SIZE]);
    expect(fault(() => q.pop())).toBe('head-index');
    expect(s[queueBase(0) + Q_NEXT_AVAIL]).toBe(0);
  });

  it('records a stall for the host to resume', () => {
    const { q, s } = queue();
    q.stall();
    expect(s[W_STALLED]).toBe(1);
  });
});

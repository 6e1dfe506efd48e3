import { afterEach, describe, expect, it } from 'vitest';
import { GuestMemory } from '../../memory.ts';
import { parseChain, type ChainLimits } from './chain.ts';
import { DESC_F_INDIRECT as I, DESC_F_NEXT as N, DESC_F_WRITE as W } from './constants.ts';
import { GuestInputError, type Fault } from './errors.ts';
import type { RawDescriptor } from './testing/driver.ts';

const TABLE = 0x1000;
const SIZE = 8;
const LIMITS: ChainLimits = { maxBytes: 1 << 20, indirect: true };
let mem: GuestMemory;
afterEach(() => mem.release());

function ram(layout = [{ gpa: 0, size: 0x10000 }]): GuestMemory {
  mem = GuestMemory.allocate(layout);
  return mem;
}
function put(table: number, descs: Array<Partial<RawDescriptor> & { flags?: number }>): void {
  descs.forEach((d, i) => {
    const at = table + 16 * i;
    mem.writeU64(at, BigInt(d.addr ?? 0x8000));
    mem.writeU32(at + 8, d.len ?? 16);
    mem.writeU16(at + 12, d.flags ?? 0);
    mem.writeU16(at + 14, d.next ?? 0);
  });
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

describe('parseChain', () => {
  it('splits a direct chain into readable then writable buffers', () => {
    const r = ram();
    put(TABLE, [{ addr: 0x8000, len: 16, flags: N, next: 2 }, {}, { addr: 0x9000, len: 100, flags: N | W, next: 3 }, { addr: 0x9100, len: 1, flags: W }]);
    const c = parseChain(r, TABLE, SIZE, 0, LIMITS);
    expect(c.head).toBe(0);
    expect(c.readable).toEqual([{ addr: 0x8000, len: 16 }]);
    expect(c.writable).toEqual([
      { addr: 0x9000, len: 100 },
      { addr: 0x9100, len: 1 },
    ]);
    expect([c.readableLen, c.writableLen]).toEqual([16, 101]);
  });

  it('follows an indirect table, ignoring WRITE on the descriptor that points at it', () => {
    const r = ram();
    put(TABLE, [{ addr: 0x2000, len: 48, flags: I | W }]);
    put(0x2000, [
      { addr: 0x8000, len: 16, flags: N, next: 1 },
      { addr: 0x8100, len: 8, flags: N, next: 2 },
      { addr: 0x9000, len: 4, flags: W },
    ]);
    const c = parseChain(r, TABLE, SIZE, 0, LIMITS);
    expect(c.readable).toEqual([
      { addr: 0x8000, len: 16 },
      { addr: 0x8100, len: 8 },
    ]);
    expect(c.writable).toEqual([{ addr: 0x9000, len: 4 }]);
  });

  it('takes direct descriptors followed by one indirect descriptor', () => {
    const r = ram();
    put(TABLE, [
      { addr: 0x8000, len: 16, flags: N, next: 1 },
      { addr: 0x2000, len: 16, flags: I },
    ]);
    put(0x2000, [{ addr: 0x9000, len: 1, flags: W }]);
    const c = parseChain(r, TABLE, SIZE, 0, LIMITS);
    expect(c.readable).toEqual([{ addr: 0x8000, len: 16 }]);
    expect(c.writable).toEqual([{ addr: 0x9000, len: 1 }]);
  });

  it('drops zero-length buffers wherever they point', () => {
    const r = ram();
    put(TABLE, [
      { addr: 0xdead_beef_0000, len: 0, flags: N, next: 1 },
      { addr: 0x8000, len: 2 },
    ]);
    expect(parseChain(r, TABLE, SIZE, 0, LIMITS).readable).toEqual([{ addr: 0x8000, len: 2 }]);
  });

  it('accepts a buffer across two adjacent RAM regions', () => {
    const r = ram([
      { gpa: 0, size: 0x10000 },
      { gpa: 0x10000, size: 0x10000 },
    ]);
    put(TABLE, [{ addr: 0xff00, len: 0x200 }]);
    expect(parseChain(r, TABLE, SIZE, 0, LIMITS).readableLen).toBe(0x200);
  });

  it.each<[string, Array<Partial<RawDescriptor>>, Fault, Array<{ gpa: number; size: number }>?]>([
    ['a buffer past the end of RAM', [{ addr: 0xfff0, len: 0x20 }], 'address'],
    [
      'a buffer in a hole between regions',
      [{ addr: 0x10000, len: 0x10 }],
      'address',
      [
        { gpa: 0, size: 0x10000 },
        { gpa: 0x20000, size: 0x10000 },
      ],
    ],
    ['an address past 2^53', [{ addr: 1n << 60n, len: 1 }], 'address'],
    ['an address of 2^64 - 1', [{ addr: (1n << 64n) - 1n, len: 1 }], 'address'],
    ['a next index past the table', [{ flags: N, next: SIZE }], 'descriptor-index'],
    [
      'a loop back to the head',
      [
        { flags: N, next: 1 },
        { flags: N, next: 0 },
      ],
      'descriptor-loop',
    ],
    ['a descriptor pointing at itself', [{ flags: N, next: 0 }], 'descriptor-loop'],
    ['a readable buffer after a writable one', [{ flags: N | W, next: 1 }, { flags: 0 }], 'write-order'],
    ['a readable after a zero-length writable', [{ len: 0, flags: N | W, next: 1 }, { flags: 0 }], 'write-order'],
    [
      'more bytes than the device cap',
      [
        { addr: 0, len: 0x8000, flags: N, next: 1 },
        { addr: 0, len: 0x8001 },
      ],
      'chain-length',
    ],
    [
      'over 2^32 bytes in total',
      [
        { addr: 0, len: 0x100, flags: N, next: 1 },
        { addr: 0, len: 0xffff_ffff },
      ],
      'chain-length',
    ],
    ['an indirect descriptor with NEXT', [{ addr: 0x2000, len: 16, flags: I | N, next: 1 }], 'indirect-with-next'],
    ['an empty indirect table', [{ addr: 0x2000, len: 0, flags: I }], 'indirect-table'],
    ['an indirect table length not a multiple of 16', [{ addr: 0x2000, len: 24, flags: I }], 'indirect-table'],
    ['an indirect table longer than the queue', [{ addr: 0x2000, len: 16 * (SIZE + 1), flags: I }], 'indirect-table'],
    ['an indirect table outside RAM', [{ addr: 0xfff0, len: 32, flags: I }], 'address'],
  ])('rejects %s', (_, descs, expected, layout) => {
    const r = ram(layout);
    put(TABLE, descs);
    const cap = expected === 'chain-length' && descs[0]!.len === 0x8000 ? 0x10000 : 2 ** 33;
    expect(fault(() => parseChain(r, TABLE, SIZE, 0, { maxBytes: cap, indirect: true }))).toBe(expected);
  });

  it.each<[string, Array<Partial<RawDescriptor>>, Fault]>([
    ['an indirect table inside an indirect table', [{ addr: 0x3000, len: 16, flags: I }], 'indirect-nested'],
    [
      'a loop inside an indirect table',
      [
        { flags: N, next: 1 },
        { flags: N, next: 0 },
      ],
      'descriptor-loop',
    ],
    ['a next past the indirect table', [{ flags: N, next: 2 }, {}], 'descriptor-index'],
    ['a readable after a writable inside an indirect table', [{ flags: N | W, next: 1 }, {}], 'write-order'],
  ])('rejects %s', (_, inner, expected) => {
    const r = ram();
    put(TABLE, [{ addr: 0x2000, len: 16 * inner.length, flags: I }]);
    put(0x2000, inner);
    expect(fault(() => parseChain(r, TABLE, SIZE, 0, LIMITS))).toBe(expected);
  });

  it('rejects a writable direct buffer followed by an indirect table with readable ones', () => {
    const r = ram();
    put(TABLE, [
      { flags: N | W, next: 1 },
      { addr: 0x2000, len: 16, flags: I },
    ]);
    put(0x2000, [{ flags: 0 }]);
    expect(fault(() => parseChain(r, TABLE, SIZE, 0, LIMITS))).toBe('write-order');
  });

  it('rejects indirect descriptors unless VIRTIO_F_INDIRECT_DESC was negotiated', () => {
    const r = ram();
    put(TABLE, [{ addr: 0x2000, len: 16, flags: I }]);
    put(0x2000, [{}]);
    expect(fault(() => parseChain(r, TABLE, SIZE, 0, { ...LIMITS, indirect: false }))).toBe('indirect-not-negotiated');
  });

  it('accepts a chain as long as the queue and no longer', () => {
    const r = ram();
    put(
      TABLE,
      Array.from({ length: SIZE }, (_, i) => ({ flags: i < SIZE - 1 ? N : 0, next: i + 1 })),
    );
    expect(parseChain(r, TABLE, SIZE, 0, LIMITS).readable).toHaveLength(SIZE);
  });
});

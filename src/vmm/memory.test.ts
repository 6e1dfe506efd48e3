import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { GuestMemory, GuestMemoryError, thpWantsAdvice } from './memory.ts';

const SIZE = 0x3000;
const HIGH = 0x10_0000; // a second region, with a hole below it

let mem: GuestMemory | undefined;
afterEach(() => {
  mem?.release();
  mem = undefined;
});
function allocate(): GuestMemory {
  mem = GuestMemory.allocate([
    { gpa: 0, size: SIZE },
    { gpa: HIGH, size: SIZE },
  ]);
  return mem;
}
const allZero = (m: GuestMemory) => m.read(0, SIZE).every((b) => b === 0) && m.read(HIGH, SIZE).every((b) => b === 0);

/** True when one mapping in /proc/self/maps holds all of [addr, addr + size). */
function mapped(addr: bigint, size = 1): boolean {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .some((line) => {
      const [start, end] = (line.split(' ')[0] ?? '').split('-').map((h) => BigInt(`0x${h || '0'}`));
      return start !== undefined && end !== undefined && start <= addr && addr + BigInt(size) <= end;
    });
}

describe('GuestMemory bounds', () => {
  it('reads and writes up to the last byte of each region', () => {
    const m = allocate();
    for (const end of [SIZE, HIGH + SIZE]) {
      m.writeU8(end - 1, 0xab);
      expect(m.readU8(end - 1)).toBe(0xab);
      m.writeU32(end - 4, 0x1234_5678);
      expect(m.readU32(end - 4)).toBe(0x1234_5678);
      m.writeU64(end - 8, 0x0102_0304_0506_0708n);
      expect(m.readU64(end - 8)).toBe(0x0102_0304_0506_0708n);
      m.write(end - 2, Uint8Array.of(9, 10));
      expect([...m.read(end - 2, 2)]).toEqual([9, 10]);
    }
  });

  it('refuses an access one byte past a region, without writing the part that fits', () => {
    const m = allocate();
    for (const end of [SIZE, HIGH + SIZE]) {
      expect(() => m.readU8(end)).toThrow(GuestMemoryError);
      expect(() => m.readU32(end - 3)).toThrow(GuestMemoryError);
      expect(() => m.writeU8(end, 1)).toThrow(GuestMemoryError);
      expect(() => m.writeU32(end - 3, 0xffff_ffff)).toThrow(GuestMemoryError);
      expect(() => m.writeU64(end - 7, -1n)).toThrow(GuestMemoryError);
      expect(() => m.write(end - 1, Uint8Array.of(1, 2))).toThrow(GuestMemoryError);
      expect(() => m.slice(end - SIZE, SIZE + 1)).toThrow(GuestMemoryError);
    }
    expect(allZero(m)).toBe(true);
  });

  it('refuses negative, fractional, non-finite, overflowing and in-hole addresses', () => {
    const m = allocate();
    const bad = [-1, -4, 0.5, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER, 2 ** 64, SIZE + 0x1000, HIGH - 1];
    for (const gpa of bad) {
      expect(() => m.readU32(gpa), `read at ${gpa}`).toThrow(GuestMemoryError);
      expect(() => m.writeU32(gpa, 0xffff_ffff), `write at ${gpa}`).toThrow(GuestMemoryError);
    }
    expect(() => m.slice(0, -1)).toThrow(GuestMemoryError);
    expect(allZero(m)).toBe(true);
  });

  it('names the refused range in its error', () => {
    expect(() => allocate().readU32(SIZE - 2)).toThrow('guest-physical range 0x2ffe+0x4 is outside guest RAM');
  });
});

describe("GuestMemory across regions (the devices' view: one API for all of guest RAM)", () => {
  it('reads and writes across adjacent regions, refuses a hole, and writes nothing unless all of it is RAM', () => {
    mem = GuestMemory.allocate([
      { gpa: 0, size: 0x1000 },
      { gpa: 0x1000, size: 0x1000 },
      { gpa: 0x4000, size: 0x1000 },
    ]);
    const m = mem;
    m.write(0xffe, Uint8Array.of(1, 2, 3, 4));
    expect([...m.read(0xffe, 4)]).toEqual([1, 2, 3, 4]);
    expect(m.pieces(0xffe, 4).map((p) => p.length)).toEqual([2, 2]);
    expect(m.contains(0, 0x2000)).toBe(true);
    expect(m.contains(0x1ffe, 4)).toBe(false); // runs into the hole at 0x2000
    expect(() => m.write(0x1ffe, Uint8Array.of(9, 9, 9, 9))).toThrow(GuestMemoryError);
    expect([...m.read(0x1ffe, 2)]).toEqual([0, 0]);
    expect(m.contains(-1, 1)).toBe(false);
  });

  it('keeps a 16-bit ring field untorn, aligned or not', () => {
    const m = allocate();
    m.storeU16(0x10, 0xbeef);
    m.storeU16(0x21, 0xcafe);
    expect([m.loadU16(0x10), m.loadU16(0x21), m.readU8(0x21), m.readU8(0x22)]).toEqual([0xbeef, 0xcafe, 0xfe, 0xca]);
  });
});

describe('GuestMemory release', () => {
  it('unmaps the RAM, and any later access throws instead of touching it', () => {
    const m = allocate();
    const [low] = m.regions;
    expect(mapped(low!.hostAddr, SIZE)).toBe(true);
    m.release();
    expect(mapped(low!.hostAddr)).toBe(false);
    expect(() => m.readU8(0)).toThrow(expect.objectContaining({ code: 'VMM_STATE' }));
    expect(() => m.writeU8(0, 1)).toThrow(expect.objectContaining({ code: 'VMM_STATE' }));
  });

  it('leaves the RAM mapped when an attached handle is released', () => {
    const owner = allocate();
    const other = GuestMemory.attach(owner.regions);
    other.writeU32(0x100, 0xfeed);
    expect(owner.readU32(0x100)).toBe(0xfeed); // the same pages
    other.release();
    expect(() => other.readU32(0x100)).toThrow('guest memory already released');
    expect(owner.readU32(0x100)).toBe(0xfeed);
    expect(mapped(owner.regions[0]!.hostAddr, SIZE)).toBe(true);
  });
});

describe('GuestMemory placement', () => {
  it('maps each region at a 2 MiB boundary, advised for huge pages where the THP policy wants it (so KVM maps the guest through them)', () => {
    const m = allocate();
    for (const r of m.regions) {
      expect(r.hostAddr % (2n << 20n)).toBe(0n);
      expect(mapped(r.hostAddr, r.size)).toBe(true);
    }
    const smaps = readFileSync('/proc/self/smaps', 'utf8');
    const start = m.regions[0]!.hostAddr.toString(16).padStart(8, '0');
    const block = smaps.slice(smaps.indexOf(`${start}-`)).split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)[0]!;
    const advised = thpWantsAdvice(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'));
    if (advised)
      expect(block).toMatch(/^VmFlags:.* hg/m); // MADV_HUGEPAGE
    else expect(block).not.toMatch(/^VmFlags:.* hg/m);
  });

  it('advises huge pages only under the madvise policy (always: they come unasked, with no compaction stall at fault time)', () => {
    expect(thpWantsAdvice('always [madvise] never\n')).toBe(true);
    expect(thpWantsAdvice('[always] madvise never\n')).toBe(false);
    expect(thpWantsAdvice('always madvise [never]\n')).toBe(false);
  });
});

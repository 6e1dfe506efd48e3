import { describe, expect, it } from 'vitest';
import { pagesOf, planMemslots } from './memslots.ts';

const ram = [{ gpa: 0, size: 0x10000, hostAddr: 0x7f00_0000_0000n }];

describe('planMemslots', () => {
  it('maps RAM as one writable slot when nothing is trapped', () => {
    expect(planMemslots(ram, [])).toEqual([{ gpa: 0, size: 0x10000, hostAddr: 0x7f00_0000_0000n, readonly: false }]);
  });

  it('carves a trapped page out as a read-only slot over the same host memory', () => {
    expect(planMemslots(ram, [0x3000])).toEqual([
      { gpa: 0, size: 0x3000, hostAddr: 0x7f00_0000_0000n, readonly: false },
      { gpa: 0x3000, size: 0x1000, hostAddr: 0x7f00_0000_3000n, readonly: true },
      { gpa: 0x4000, size: 0xc000, hostAddr: 0x7f00_0000_4000n, readonly: false },
    ]);
  });

  it('merges adjacent trapped pages and handles pages at the edges', () => {
    expect(planMemslots(ram, [0xf000, 0x0, 0x1000, 0x1000]).map((s) => [s.gpa, s.size, s.readonly])).toEqual([
      [0, 0x2000, true],
      [0x2000, 0xd000, false],
      [0xf000, 0x1000, true],
    ]);
  });

  it('ignores pages outside RAM and rejects unaligned ones', () => {
    expect(planMemslots(ram, [0x20000])).toHaveLength(1);
    expect(() => planMemslots(ram, [0x1234])).toThrow(/not page-aligned/);
  });

  it('covers every byte of RAM exactly once', () => {
    const two = [...ram, { gpa: 0x100000, size: 0x4000, hostAddr: 0x7f10_0000_0000n }];
    const slots = planMemslots(two, [0x2000, 0x101000, 0x103000]);
    expect(slots.reduce((n, s) => n + s.size, 0)).toBe(0x14000);
    for (let i = 1; i < slots.length; i++) expect(slots[i]!.gpa).toBeGreaterThanOrEqual(slots[i - 1]!.gpa + slots[i - 1]!.size);
  });
});

describe('pagesOf', () => {
  it('gives one page for a range inside it and two for a straddling one', () => {
    expect(pagesOf(0x200008n, 4)).toEqual([0x200000]);
    expect(pagesOf(0x200ffen, 4)).toEqual([0x200000, 0x201000]);
  });
});

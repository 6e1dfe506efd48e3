import { describe, expect, it } from 'vitest';
import { translate, type PhysReader } from './page-walk.ts';

/** Sparse guest RAM of u64 entries. */
function ram(entries: Record<number, bigint>): PhysReader {
  return { readU64: (gpa) => entries[gpa] ?? 0n };
}

const P = 1n; // present
const RW = 2n;
const PS = 1n << 7n;

describe('translate', () => {
  // Kernel-style address: PML4 index 511, PDPT index 510, PD index 1, PT index 2.
  const va = 0xffff_ffff_8020_2123n;
  const tables = ram({
    [0x1000 + 511 * 8]: 0x2000n | P | RW,
    [0x2000 + 510 * 8]: 0x3000n | P | RW,
    [0x3000 + 1 * 8]: 0x4000n | P | RW,
    [0x4000 + 2 * 8]: 0x7_5000n | P | RW | (1n << 63n), // NX bit is not address
  });

  it('walks four levels to a 4 KiB page, ignoring CR3 flag bits and NX', () => {
    expect(translate(tables, 0x1000n | 0x18n, va)).toEqual({ gpa: 0x7_5123 });
  });

  it('stops at 2 MiB and 1 GiB pages', () => {
    const big = ram({
      [0x1000 + 511 * 8]: 0x2000n | P,
      [0x2000 + 510 * 8]: 0x3000n | P,
      [0x3000 + 1 * 8]: 0x4020_0000n | P | PS,
    });
    expect(translate(big, 0x1000n, va)).toEqual({ gpa: 0x4020_2123 });
    // Direct map: 0xffff888000000000 + 0x4000_1234 through a 1 GiB page (PML4 273, PDPT 1).
    const huge = ram({ [0x1000 + 273 * 8]: 0x2000n | P, [0x2000 + 1 * 8]: 0x4000_0000n | P | PS });
    expect(translate(huge, 0x1000n, 0xffff_8880_4000_1234n)).toEqual({ gpa: 0x4000_1234 });
  });

  it('says where a mapping is missing', () => {
    expect(translate(tables, 0x1000n, 0xffff_8880_0000_0000n)).toEqual({ error: '0xffff888000000000 is not mapped (level 4 entry not present)' });
  });
});

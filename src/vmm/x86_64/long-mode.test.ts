import { describe, expect, it } from 'vitest';
import { gdtEntry, segmentFromGdt } from './long-mode.ts';

describe('GDT encoding', () => {
  it('encodes the flat 64-bit code segment as the kernel does', () => {
    expect(gdtEntry(0xa09b, 0, 0xfffff)).toBe(0x00af_9b00_0000_ffffn);
    expect(gdtEntry(0xc093, 0, 0xfffff)).toBe(0x00cf_9300_0000_ffffn);
  });

  it('decodes a code descriptor into a long-mode KVM segment', () => {
    const s = segmentFromGdt(gdtEntry(0xa09b, 0, 0xfffff), 8);
    expect(s).toMatchObject({ base: 0n, limit: 0xffff_ffff, selector: 8, type: 0xb, present: 1, s: 1, l: 1, db: 0, g: 1, unusable: 0 });
  });

  it('round-trips a non-zero base', () => {
    const s = segmentFromGdt(gdtEntry(0x4093, 0x1234_5678, 0xabcd), 0x10);
    expect(s.base).toBe(0x1234_5678n);
    expect(s.limit).toBe(0xabcd);
    expect(s.db).toBe(1);
  });
});

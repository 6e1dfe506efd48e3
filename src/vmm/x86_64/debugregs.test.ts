import { describe, expect, it } from 'vitest';
import type { WatchLen } from '../watchpoint-arch.ts';
import { buildDebugRegs, checkWatch, decodeDr6, encodeDr7, KVM_GUESTDBG_ENABLE, KVM_GUESTDBG_USE_HW_BP } from './debugregs.ts';

describe('encodeDr7', () => {
  it('encodes slot 0, write, 4 bytes as 0xD0703', () => {
    expect(encodeDr7([{ len: 4, on: 'write' }])).toBe(0xd0703n);
  });

  it('maps lengths 1, 2, 8, 4 to LEN 00, 01, 10, 11 in slot 0', () => {
    const dr7 = (len: WatchLen) => encodeDr7([{ len, on: 'write' }]);
    expect(dr7(1)).toBe(0x10703n);
    expect(dr7(2)).toBe(0x50703n);
    expect(dr7(8)).toBe(0x90703n);
    expect(dr7(4)).toBe(0xd0703n);
  });

  it('encodes readwrite as RW 11', () => {
    expect(encodeDr7([{ len: 1, on: 'readwrite' }])).toBe(0x30703n);
    expect(encodeDr7([{ len: 4, on: 'readwrite' }])).toBe(0xf0703n);
  });

  it('places each slot in its own enable and RW/LEN fields', () => {
    expect(encodeDr7([undefined, { len: 4, on: 'write' }])).toBe(0xd0070cn);
    expect(encodeDr7([undefined, undefined, { len: 2, on: 'readwrite' }])).toBe(0x07000730n);
    expect(encodeDr7([undefined, undefined, undefined, { len: 8, on: 'readwrite' }])).toBe(0xb00007c0n);
  });

  it('arms all four slots at once', () => {
    const w = { len: 4, on: 'write' } as const;
    expect(encodeDr7([w, w, w, w])).toBe(0xdddd07ffn);
  });

  it('is zero, without LE/GE/bit 10, when no slot is armed', () => {
    expect(encodeDr7([])).toBe(0n);
    expect(encodeDr7([undefined, undefined, undefined, undefined])).toBe(0n);
  });

  it('rejects bad lengths, bad modes and a fifth slot', () => {
    expect(() => encodeDr7([{ len: 3 as WatchLen, on: 'write' }])).toThrow('watch slot 0: length 3 is not 1, 2, 4 or 8 bytes');
    expect(() => encodeDr7([{ len: 4, on: 'read' as 'write' }])).toThrow("watch slot 0: mode 'read'");
    expect(() => encodeDr7(new Array(5).fill(undefined))).toThrow('4 debug address registers, got 5');
  });
});

describe('checkWatch', () => {
  it('accepts addresses aligned to their length, including above 2^53', () => {
    expect(() => checkWatch({ address: 0xffff_ffff_8100_1008n, len: 8, on: 'write' }, 0)).not.toThrow();
    expect(() => checkWatch({ address: 0x1001n, len: 1, on: 'write' }, 0)).not.toThrow();
  });

  it('rejects misaligned and out-of-range addresses', () => {
    expect(() => checkWatch({ address: 0x1002n, len: 4, on: 'write' }, 2)).toThrow('watch slot 2: address 0x1002 is not aligned to its 4-byte length');
    expect(() => checkWatch({ address: 0x1004n, len: 8, on: 'write' }, 1)).toThrow('not aligned to its 8-byte length');
    expect(() => checkWatch({ address: 0x1001n, len: 2, on: 'write' }, 3)).toThrow('not aligned to its 2-byte length');
    expect(() => checkWatch({ address: -4n, len: 4, on: 'write' }, 0)).toThrow('is not a u64');
    expect(() => checkWatch({ address: 1n << 64n, len: 4, on: 'write' }, 0)).toThrow('is not a u64');
  });
});

describe('decodeDr6', () => {
  it('names the slots whose B0..B3 bits are set', () => {
    expect(decodeDr6(0x1n)).toEqual([0]);
    expect(decodeDr6(0x4n)).toEqual([2]);
    expect(decodeDr6(0xfn)).toEqual([0, 1, 2, 3]);
    expect(decodeDr6(0xffff0ff5n)).toEqual([0, 2]);
    expect(decodeDr6(8)).toEqual([3]);
  });

  it('is empty for a spurious or single-step DR6', () => {
    expect(decodeDr6(0n)).toEqual([]);
    expect(decodeDr6(0xffff0ff0n)).toEqual([]);
    expect(decodeDr6(1n << 14n)).toEqual([]);
  });
});

describe('buildDebugRegs', () => {
  it('fills DR0..DR3 with addresses, DR6 with 0 and DR7 with the encoding', () => {
    const g = buildDebugRegs([{ address: 0xffff_ffff_8100_1000n, len: 4, on: 'write' }, undefined, { address: 0x2000n, len: 8, on: 'readwrite' }]);
    expect(g.control).toBe(0x20001);
    expect(g.control).toBe(KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP);
    expect(g.arch).toEqual([0xffff_ffff_8100_1000n, 0n, 0x2000n, 0n, 0n, 0n, 0n, 0x0b0d0733n]);
  });

  it('turns guest debugging off when nothing is armed', () => {
    expect(buildDebugRegs([])).toEqual({ control: 0, arch: [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n] });
  });

  it('rejects a misaligned address before anything reaches KVM', () => {
    expect(() => buildDebugRegs([undefined, { address: 0x1006n, len: 4, on: 'write' }])).toThrow('watch slot 1: address 0x1006');
  });
});

import { describe, expect, it } from 'vitest';
import { resolveGuestAddress, symbolRange } from './guest-address.ts';

const symbols = { _start: 0x100000, spin_loop: 0x100001, spin_loop_end: 0x100003, far: 0x100100 };

describe('symbolRange', () => {
  it('takes a symbol as the range up to the next symbol', () => {
    expect(symbolRange(symbols, 'spin_loop')).toEqual({ from: 0x100001, to: 0x100003 });
    expect(symbolRange(symbols, 'far')).toEqual({ from: 0x100100, to: 0x100101 });
    expect(symbolRange(symbols, 'nope')).toMatch(/no symbol 'nope'.*known: _start, far, spin_loop/);
    expect(symbolRange({}, 'x')).toMatch(/no symbol table/);
  });
});

describe('resolveGuestAddress', () => {
  it('takes a number or bigint as a guest-physical address, range-checked', () => {
    expect(resolveGuestAddress(0x200000, symbols)).toBe(0x200000);
    expect(resolveGuestAddress(0x200000n, undefined)).toBe(0x200000);
    expect(resolveGuestAddress(2n ** 52n - 1n, undefined)).toBe(2 ** 52 - 1);
    expect(() => resolveGuestAddress(2n ** 53n + 1n, symbols)).toThrow(expect.objectContaining({ code: 'VMM_GUEST_ADDRESS' }));
    expect(() => resolveGuestAddress(-8, symbols)).toThrow(expect.objectContaining({ code: 'VMM_GUEST_ADDRESS' }));
  });

  it("takes a name as a bare guest's symbol, or a Linux kernel's", () => {
    expect(resolveGuestAddress('far', symbols)).toBe(0x100100);
    expect(() => resolveGuestAddress('nope', symbols)).toThrow(/no symbol 'nope'.*known: _start/);
    expect(resolveGuestAddress('jiffies', undefined)).toEqual({ kernelSymbol: 'jiffies' });
  });
});

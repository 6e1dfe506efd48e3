import { describe, expect, it } from 'vitest';
import { GuestAddressError } from './errors.ts';
import { GUEST_PHYS_LIMIT, guestPhysToU64, toGuestPhys, toGuestVirt } from './guest-address.ts';

/** The error code `fn` throws, or undefined if it returns. */
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(GuestAddressError);
    return (e as GuestAddressError).code;
  }
  return undefined;
};

describe('toGuestPhys', () => {
  it('is exact up to the last guest-physical address, from a bigint or a number', () => {
    expect(GUEST_PHYS_LIMIT).toBe(2 ** 52);
    expect(toGuestPhys(0n)).toBe(0);
    expect(toGuestPhys(0)).toBe(0);
    expect(toGuestPhys(2n ** 52n - 1n)).toBe(2 ** 52 - 1);
    expect(toGuestPhys(2 ** 52 - 1)).toBe(2 ** 52 - 1);
    expect(toGuestPhys(0x000f_ffff_ffff_f123n)).toBe(0x000f_ffff_ffff_f123);
  });

  it('refuses what lies past guest-physical space, below 0, or between integers', () => {
    for (const v of [2n ** 52n, 2 ** 52, 2n ** 53n + 1n, 0xffff_ffff_8100_0000n, 2n ** 64n, -1n, -1, 0.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(code(() => toGuestPhys(v))).toBe('VMM_GUEST_ADDRESS');
    }
    expect(() => toGuestPhys(0xffff_ffff_8100_0000n)).toThrow('0xffffffff81000000 is not a guest-physical address');
  });
});

describe('guestPhysToU64', () => {
  it('is exact at the edges and refuses what toGuestPhys refuses', () => {
    expect(guestPhysToU64(0)).toBe(0n);
    expect(guestPhysToU64(2 ** 52 - 1)).toBe(2n ** 52n - 1n);
    for (const v of [2 ** 52, -1, 0.5, Number.NaN]) expect(code(() => guestPhysToU64(v))).toBe('VMM_GUEST_ADDRESS');
  });
});

describe('toGuestVirt', () => {
  it('takes every 64-bit address as a bigint, and a number only while it is exact', () => {
    expect(toGuestVirt(0n)).toBe(0n);
    expect(toGuestVirt(2n ** 64n - 1n)).toBe(2n ** 64n - 1n);
    expect(toGuestVirt(0xffff_ffff_8100_0000n)).toBe(0xffff_ffff_8100_0000n);
    expect(toGuestVirt(0x100000)).toBe(0x100000n);
    expect(toGuestVirt(Number.MAX_SAFE_INTEGER)).toBe(2n ** 53n - 1n);
  });

  it('refuses what no 64-bit address is, and a number past 2^53 (no longer one address)', () => {
    for (const v of [2n ** 64n, -1n, -1, 2 ** 53, 2 ** 63, 0.5, Number.NaN]) {
      expect(code(() => toGuestVirt(v))).toBe('VMM_GUEST_ADDRESS');
    }
    expect(() => toGuestVirt(2 ** 53)).toThrow('exact as a number below 2^53');
  });
});

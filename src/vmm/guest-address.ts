// Guest addresses, in the manner of rust-vmm vm-memory's GuestAddress: one type for
// guest-physical addresses, one for guest-virtual ones, and the only conversions into and out of
// them, each range-checked, so an address never silently loses precision on the way.
import { GuestAddressError } from './errors.ts';

/**
 * A guest-physical address: a number, exact because physical addresses stay below 2^52
 * (MAXPHYADDR's architectural limit on x86_64, the largest PA on arm64).
 */
export type GuestPhysAddr = number;

/** A guest-virtual address: a bigint, because kernel addresses (0xffff_8000_0000_0000 up) do not fit a number. */
export type GuestVirtAddr = bigint;

/** The first address past guest-physical space. */
export const GUEST_PHYS_LIMIT = 2 ** 52;
const PHYS_LIMIT = BigInt(GUEST_PHYS_LIMIT);
const VIRT_LIMIT = 1n << 64n;

const show = (v: number | bigint) => ((typeof v === 'bigint' || Number.isSafeInteger(v)) && v >= 0 ? `0x${v.toString(16)}` : String(v));

/**
 * `v` as a guest-physical address: a 64-bit field (a register, a virtqueue descriptor, a
 * page-table entry, an exit's address) or a number. A GuestAddressError unless it is an integer
 * in [0, 2^52).
 */
export function toGuestPhys(v: bigint | number): GuestPhysAddr {
  if (typeof v === 'bigint' ? v >= 0n && v < PHYS_LIMIT : Number.isInteger(v) && v >= 0 && v < GUEST_PHYS_LIMIT) return Number(v);
  throw new GuestAddressError(`${show(v)} is not a guest-physical address (an integer below 2^52)`);
}

/** `gpa` as a 64-bit field takes it (KVM's structs, boot_params, page-table entries); checked as toGuestPhys checks. */
export function guestPhysToU64(gpa: GuestPhysAddr): bigint {
  return BigInt(toGuestPhys(gpa));
}

/**
 * `v` as a guest-virtual address. A GuestAddressError unless it is an integer in [0, 2^64);
 * a number only up to 2^53, past which it no longer says exactly which address.
 */
export function toGuestVirt(v: bigint | number): GuestVirtAddr {
  if (typeof v === 'bigint' ? v >= 0n && v < VIRT_LIMIT : Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  throw new GuestAddressError(`${show(v)} is not a guest-virtual address (an integer below 2^64${typeof v === 'number' ? ', exact as a number below 2^53' : ''})`);
}

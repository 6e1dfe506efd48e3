// A user's guest address resolved to the VMM's types (vmm/guest-address.ts) in one place: a
// number or bigint is guest-physical, range-checked; a name is a bare guest's symbol, or a Linux
// guest's kernel symbol (read through the kernel image, by kernel-watch.ts).
import { toGuestPhys, type GuestPhysAddr } from '../vmm/guest-address.ts';

/** A guest-physical address, or a symbol name (see SchedVm.read). */
export type GuestAddress = number | bigint | string;

/** A bare guest's symbols: name to guest-physical address (the guest is identity-mapped: virtual too). */
export type BareSymbols = Readonly<Record<string, GuestPhysAddr>>;

/** [from, to) for a bare guest's symbol: up to the next symbol above it; or why there is none. */
export function symbolRange(symbols: BareSymbols, name: string): { from: GuestPhysAddr; to: GuestPhysAddr } | string {
  const at = symbols[name];
  if (at === undefined) {
    const known = Object.keys(symbols);
    if (known.length === 0) return `no symbol table for this guest: symbols work for bare-metal guests; pass { from, to } instead`;
    return `no symbol '${name}' in this guest (known: ${known.sort().join(', ')})`;
  }
  const next = Math.min(...Object.values(symbols).filter((a) => a > at));
  return { from: at, to: Number.isFinite(next) ? next : at + 1 };
}

/**
 * Where `at` is: its guest-physical address, or, for a name on a Linux guest (no `bare`
 * symbols), the kernel symbol to read. A GuestAddressError (VMM_GUEST_ADDRESS) for a number
 * outside guest-physical space; an Error for a name the bare guest lacks.
 */
export function resolveGuestAddress(at: GuestAddress, bare: BareSymbols | undefined): GuestPhysAddr | { kernelSymbol: string } {
  if (typeof at !== 'string') return toGuestPhys(at);
  if (!bare) return { kernelSymbol: at };
  const range = symbolRange(bare, at);
  if (typeof range === 'string') throw new Error(range);
  return range.from;
}

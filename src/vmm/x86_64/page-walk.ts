// Guest-virtual to guest-physical through the guest's own 4-level page tables, read from guest
// RAM: how the host finds the kernel variable behind a symbol (KASLR and all). Guests here never
// get LA57 (cpuid.ts), so four levels are the whole story.
import { toGuestPhys, type GuestPhysAddr, type GuestVirtAddr } from '../guest-address.ts';

/** The read this needs from guest RAM. */
export interface PhysReader {
  readU64(gpa: GuestPhysAddr): bigint;
}

const PRESENT = 1n;
const PAGE_SIZE_BIT = 1n << 7n;
const ADDR_MASK = 0x000f_ffff_ffff_f000n;

/** The guest-physical address `va` maps to under `cr3`, or a reason it maps to none. */
export function translate(mem: PhysReader, cr3: bigint, va: GuestVirtAddr): { gpa: GuestPhysAddr } | { error: string } {
  let table = cr3 & ADDR_MASK;
  // Level 4 (PML4) down to 1 (PT): index bits 47..39, 38..30, 29..21, 20..12.
  for (let level = 4; level >= 1; level--) {
    const shift = BigInt(12 + 9 * (level - 1));
    const index = (va >> shift) & 0x1ffn;
    const entry = mem.readU64(toGuestPhys(table + index * 8n));
    if ((entry & PRESENT) === 0n) return { error: `0x${va.toString(16)} is not mapped (level ${level} entry not present)` };
    // A 1 GiB (level 3) or 2 MiB (level 2) page ends the walk.
    if (level === 1 || ((level === 3 || level === 2) && (entry & PAGE_SIZE_BIT) !== 0n)) {
      const offsetMask = (1n << shift) - 1n;
      return { gpa: toGuestPhys((entry & ADDR_MASK & ~offsetMask) | (va & offsetMask)) };
    }
    table = entry & ADDR_MASK;
  }
  return { error: 'unreachable' };
}

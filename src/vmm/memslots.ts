// KVM memory slots for guest RAM, with chosen pages carved out as read-only slots: guest
// writes there exit to the VMM (the write-trap watchpoint mechanism).
import { VmmConfigError } from './errors.ts';
import { toGuestPhys, type GuestPhysAddr, type GuestVirtAddr } from './guest-address.ts';
import type { VmFd } from './kvm.ts';
import type { RamRegion } from './memory.ts';

export const PAGE = 0x1000;

export interface Memslot {
  gpa: GuestPhysAddr;
  size: number;
  hostAddr: bigint;
  readonly: boolean;
}

/** Splits each RAM region around the trapped pages (page-aligned GPAs outside RAM are ignored). */
export function planMemslots(ram: readonly RamRegion[], trapPages: Iterable<GuestPhysAddr>): Memslot[] {
  const pages = [...new Set(trapPages)].sort((a, b) => a - b);
  const slots: Memslot[] = [];
  for (const r of ram) {
    const end = r.gpa + r.size;
    let at = r.gpa;
    const piece = (from: GuestPhysAddr, to: GuestPhysAddr, readonly: boolean) => {
      if (to > from) slots.push({ gpa: from, size: to - from, hostAddr: r.hostAddr + BigInt(from - r.gpa), readonly });
    };
    for (const p of pages) {
      if (p % PAGE !== 0) throw new VmmConfigError(`trap page 0x${p.toString(16)} is not page-aligned`);
      if (p < r.gpa || p + PAGE > end) continue;
      piece(at, p, false);
      piece(p, p + PAGE, true);
      at = p + PAGE;
    }
    piece(at, end, false);
  }
  // Adjacent read-only pages become one slot: fewer slots, same behaviour.
  return slots.reduce<Memslot[]>((out, s) => {
    const last = out.at(-1);
    if (last && last.readonly === s.readonly && last.gpa + last.size === s.gpa && last.hostAddr + BigInt(last.size) === s.hostAddr) {
      last.size += s.size;
    } else out.push({ ...s });
    return out;
  }, []);
}

/**
 * The pages a write-trapped range [address, address + len) lies on. A write trap's address is
 * guest-physical: a bare guest's (mapped 1:1), or the translation armed at run time.
 */
export function pagesOf(address: GuestVirtAddr, len: number): GuestPhysAddr[] {
  const gpa = toGuestPhys(address);
  const first = gpa - (gpa % PAGE);
  const last = gpa + len - 1 - ((gpa + len - 1) % PAGE);
  return first === last ? [first] : [first, last];
}

/**
 * The VM's memslots as KVM has them: the one place that sets them. Replacing deletes every old
 * slot first (a slot's GPA range cannot shrink in place); vCPUs must be out of KVM_RUN meanwhile
 * (parked, or not started), or RAM would vanish under them.
 */
export class MemslotTable {
  private slots: Memslot[] = [];

  constructor(private readonly vm: Pick<VmFd, 'setUserMemoryRegion'>) {}

  replace(next: Memslot[]): void {
    this.slots.forEach((m, slot) => {
      this.vm.setUserMemoryRegion({ slot, guestPhysAddr: m.gpa, size: 0, hostAddr: m.hostAddr, readonly: m.readonly });
    });
    next.forEach((m, slot) => {
      this.vm.setUserMemoryRegion({ slot, guestPhysAddr: m.gpa, size: m.size, hostAddr: m.hostAddr, readonly: m.readonly });
    });
    this.slots = next;
  }

  get current(): readonly Memslot[] {
    return this.slots;
  }
}

// 64-bit entry the way Linux's 64-bit boot protocol expects it: flat GDT, identity-mapped
// page tables, protected mode + paging + PAE + long mode, interrupts off.
import type { KvmRegs } from '../kvm.ts';
import type { KvmSegment, KvmSregs } from './vcpu-ioctls.ts';
import { guestPhysToU64, type GuestPhysAddr } from '../guest-address.ts';
import type { GuestMemory } from '../memory.ts';
import { CODE64_SELECTOR, DATA_SELECTOR, GDT_ADDR, IDT_ADDR, PD_ADDR, PDPT_ADDR, PML4_ADDR } from './layout.ts';

const X86_CR0_PE = 0x1n;
const X86_CR0_ET = 0x10n;
const X86_CR0_NE = 0x20n;
const X86_CR0_PG = 0x8000_0000n;
const X86_CR4_PAE = 0x20n;
const EFER_LME = 0x100n;
const EFER_LMA = 0x400n;

/** GDT descriptor from (flags, base, limit), in the kernel's GDT_ENTRY layout. */
export function gdtEntry(flags: number, base: number, limit: number): bigint {
  const b = BigInt(base);
  const l = BigInt(limit);
  const f = BigInt(flags);
  return ((b & 0xff00_0000n) << 32n) | ((f & 0xf0ffn) << 40n) | ((l & 0xf_0000n) << 32n) | ((b & 0x00ff_ffffn) << 16n) | (l & 0xffffn);
}

/** The KVM segment a GDT entry describes, loaded with `selector`. */
export function segmentFromGdt(entry: bigint, selector: number): KvmSegment {
  const bits = (shift: bigint, mask: bigint) => Number((entry >> shift) & mask);
  const limitRaw = bits(0n, 0xffffn) | (bits(48n, 0xfn) << 16);
  const g = bits(55n, 1n);
  return {
    base: ((entry >> 16n) & 0xff_ffffn) | (((entry >> 56n) & 0xffn) << 24n),
    limit: g ? limitRaw * 0x1000 + 0xfff : limitRaw,
    selector,
    type: bits(40n, 0xfn),
    present: bits(47n, 1n),
    dpl: bits(45n, 3n),
    db: bits(54n, 1n),
    s: bits(44n, 1n),
    l: bits(53n, 1n),
    g,
    avl: bits(52n, 1n),
    unusable: bits(47n, 1n) ? 0 : 1,
    padding: 0,
  };
}

const GDT = [
  gdtEntry(0, 0, 0), // null
  gdtEntry(0xa09b, 0, 0xfffff), // 0x08: 64-bit code
  gdtEntry(0xc093, 0, 0xfffff), // 0x10: data
  gdtEntry(0x808b, 0, 0xfffff), // 0x18: TSS (VMX refuses an unusable TR)
];

/** Writes the GDT, an empty IDT and 4 GiB of identity-mapped 2 MiB pages into guest RAM. */
export function writeLongModeTables(mem: GuestMemory): void {
  GDT.forEach((e, i) => {
    mem.writeU64(GDT_ADDR + i * 8, e);
  });
  mem.writeU64(IDT_ADDR, 0n);
  mem.writeU64(PML4_ADDR, guestPhysToU64(PDPT_ADDR) | 0x3n);
  for (let g = 0; g < 4; g++) {
    const pd = PD_ADDR + g * 0x1000;
    mem.writeU64(PDPT_ADDR + g * 8, guestPhysToU64(pd) | 0x3n);
    for (let i = 0; i < 512; i++) {
      // present | writable | 2 MiB page
      mem.writeU64(pd + i * 8, (BigInt(g) << 30n) | (BigInt(i) << 21n) | 0x83n);
    }
  }
}

/** Puts a vCPU's special registers into 64-bit mode over the tables above. */
export function setupSregs(sregs: KvmSregs): KvmSregs {
  const code = segmentFromGdt(GDT[1]!, CODE64_SELECTOR);
  const data = segmentFromGdt(GDT[2]!, DATA_SELECTOR);
  const tss = segmentFromGdt(GDT[3]!, 0x18);
  return {
    ...sregs,
    cs: code,
    ds: data,
    es: data,
    fs: data,
    gs: data,
    ss: data,
    tr: tss,
    gdt: { base: guestPhysToU64(GDT_ADDR), limit: GDT.length * 8 - 1, padding: [0, 0, 0] },
    idt: { base: guestPhysToU64(IDT_ADDR), limit: 7, padding: [0, 0, 0] },
    cr0: sregs.cr0 | X86_CR0_PE | X86_CR0_ET | X86_CR0_NE | X86_CR0_PG,
    cr3: guestPhysToU64(PML4_ADDR),
    cr4: sregs.cr4 | X86_CR4_PAE,
    efer: sregs.efer | EFER_LME | EFER_LMA,
  };
}

/** Where a vCPU enters: rip and rsp in the identity map, so guest-physical. */
export interface EntryState {
  rip: GuestPhysAddr;
  rsp: GuestPhysAddr;
  rdi?: number;
  rsi?: number;
  rdx?: number;
}

export function entryRegs(e: EntryState): KvmRegs {
  const z = 0n;
  return {
    rax: z,
    rbx: z,
    rcx: z,
    rdx: BigInt(e.rdx ?? 0),
    rsi: BigInt(e.rsi ?? 0),
    rdi: BigInt(e.rdi ?? 0),
    rsp: guestPhysToU64(e.rsp),
    rbp: guestPhysToU64(e.rsp),
    r8: z,
    r9: z,
    r10: z,
    r11: z,
    r12: z,
    r13: z,
    r14: z,
    r15: z,
    rip: guestPhysToU64(e.rip),
    rflags: 0x2n,
  };
}

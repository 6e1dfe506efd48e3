// Guest-physical layout shared by the VMM's x86_64 setup and the bare-metal guests.
// Bare-metal guests are linked at BARE_LOAD_ADDR and entered in 64-bit mode with:
//   rdi = vCPU index, rsi = vCPU count, rdx = guest argument (scenario `guest_arg`),
//   rsp = top of that vCPU's own stack, interrupts off (rflags = 0x2),
//   CS = 0x08 (64-bit code), DS/ES/SS/FS/GS = 0x10, the first 4 GiB identity-mapped.
import type { GuestPhysAddr } from '../guest-address.ts';

export const GDT_ADDR = 0x500;
export const IDT_ADDR = 0x520;
export const PML4_ADDR = 0x9000;
export const PDPT_ADDR = 0xa000;
/** Four page directories (0xb000..0xefff) map 4 GiB with 2 MiB pages. */
export const PD_ADDR = 0xb000;
export const IDENTITY_MAP_BYTES = 4n << 30n;

export const BARE_LOAD_ADDR = 0x100000;
export const BARE_STACK_BASE = 0x400000;
export const BARE_STACK_BYTES = 0x4000;
/** RAM the watchpoint guests store to (exit-kind at +0, user slots at +8, +16, +24). */
export const BARE_WATCH_BASE = 0x200000;
/** Unbacked guest-physical address used by the mmio-unmapped guest. */
export const UNMAPPED_MMIO_ADDR = 0xd000_0000;

export const CODE64_SELECTOR = 0x08;
export const DATA_SELECTOR = 0x10;

export function bareStackTop(vcpuIndex: number): GuestPhysAddr {
  return BARE_STACK_BASE + (vcpuIndex + 1) * BARE_STACK_BYTES;
}

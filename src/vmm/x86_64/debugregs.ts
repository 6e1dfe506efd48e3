// x86 hardware watchpoints: DR7 encoding, DR6 decoding, and the debugreg[8] array
// that KVM_SET_GUEST_DEBUG takes (DR0..DR3, two reserved words, DR6, DR7).
import { WatchpointError } from '../errors.ts';
import type { GuestDebug, HwWatch, WatchLen, WatchOn } from '../watchpoint-arch.ts';
export const KVM_GUESTDBG_ENABLE = 0x1;
export const KVM_GUESTDBG_USE_HW_BP = 0x20000;
export const HW_SLOTS = 4;
/** offsetof(struct kvm_debug_exit_arch, dr6): where a debug exit's DR6 sits (probed in sys/kvm-abi.test.ts). */
export const DEBUG_EXIT_DR6 = 16;

export type WatchMode = Pick<HwWatch, 'len' | 'on'>;

// Bit 10 reads as 1; LE/GE ask for exact data-breakpoint reporting.
const DR7_FIXED_1 = 1n << 10n;
const DR7_LE = 1n << 8n;
const DR7_GE = 1n << 9n;
const RW_BITS: Record<WatchOn, bigint> = { write: 0b01n, readwrite: 0b11n };
// The LEN encoding is not monotonic: 8 bytes is 10, 4 bytes is 11.
const LEN_BITS: Record<WatchLen, bigint> = { 1: 0b00n, 2: 0b01n, 8: 0b10n, 4: 0b11n };

function checkSlots(slots: readonly unknown[]): void {
  if (slots.length > HW_SLOTS) throw new WatchpointError(`x86 has ${HW_SLOTS} debug address registers, got ${slots.length} watches`);
}

function checkLen(len: number, slot: number): asserts len is WatchLen {
  if (!(len in LEN_BITS)) throw new WatchpointError(`watch slot ${slot}: length ${len} is not 1, 2, 4 or 8 bytes`);
}

/** DR7 for up to four slots; an undefined slot stays disabled. */
export function encodeDr7(slots: readonly (WatchMode | undefined)[]): bigint {
  checkSlots(slots);
  let dr7 = 0n;
  slots.forEach((w, i) => {
    if (!w) return;
    checkLen(w.len, i);
    const rw = RW_BITS[w.on];
    if (rw === undefined) throw new WatchpointError(`watch slot ${i}: mode '${String(w.on)}' is not 'write' or 'readwrite'`);
    const n = BigInt(i);
    dr7 |= 0b11n << (2n * n); // Ln | Gn
    dr7 |= rw << (16n + 4n * n);
    dr7 |= LEN_BITS[w.len] << (18n + 4n * n);
  });
  return dr7 === 0n ? 0n : dr7 | DR7_LE | DR7_GE | DR7_FIXED_1;
}

/** Throws unless `address` is a u64 aligned to `len` (the CPU ignores the low bits otherwise). */
export function checkWatch(w: HwWatch, slot: number): void {
  checkLen(w.len, slot);
  if (w.address < 0n || w.address >= 1n << 64n) throw new WatchpointError(`watch slot ${slot}: address ${w.address} is not a u64`);
  if (w.address % BigInt(w.len) !== 0n) {
    throw new WatchpointError(`watch slot ${slot}: address 0x${w.address.toString(16)} is not aligned to its ${w.len}-byte length`);
  }
}

/** Slot indices whose B0..B3 bit is set in DR6; empty means a spurious or single-step exit. */
export function decodeDr6(dr6: bigint | number): number[] {
  const bits = Number(BigInt(dr6) & 0xfn);
  const fired: number[] = [];
  for (let i = 0; i < HW_SLOTS; i++) if (bits & (1 << i)) fired.push(i);
  return fired;
}

/** The kvm_guest_debug contents arming `slots` (arch: debugreg); no armed slot gives control 0 (debugging off). */
export function buildDebugRegs(slots: readonly (HwWatch | undefined)[]): GuestDebug {
  checkSlots(slots);
  const debugreg: bigint[] = new Array<bigint>(8).fill(0n);
  slots.forEach((w, i) => {
    if (!w) return;
    checkWatch(w, i);
    debugreg[i] = w.address;
  });
  debugreg[7] = encodeDr7(slots);
  const control = debugreg[7] === 0n ? 0 : KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP;
  return { control, arch: debugreg };
}

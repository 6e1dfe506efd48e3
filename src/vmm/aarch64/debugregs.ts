// arm64 hardware watchpoints: ESR decode, DBGWVR/DBGWCR encoding, and the debug-exit
// state machine. A watchpoint traps before the store retires, so after a hit the vCPU
// single-steps over the store with the matched slots disabled, then re-enables them.

export const KVM_GUESTDBG_ENABLE = 0x1;
export const KVM_GUESTDBG_SINGLESTEP = 0x2;
export const KVM_GUESTDBG_USE_HW = 0x20000;
export const HW_SLOTS = 4;
/** kvm_guest_debug_arch holds 16 watchpoint register pairs; the VMM uses the first four. */
export const KVM_ARM_MAX_DBG_REGS = 16;

export const ESR_EC_SOFTSTP_LOW = 0x32;
export const ESR_EC_WATCHPT_LOW = 0x34;

const U64_MAX = (1n << 64n) - 1n;
/** Each armed slot watches this many bytes from its address. */
export const WATCH_BYTES = 4n;

/** Exception class of an ESR_ELx (KVM's `hsr`). */
export function exceptionClass(hsr: number): number {
  return (hsr >>> 26) & 0x3f;
}

/** The watchpoint value register: the doubleword holding the watched bytes. */
export function dbgwvr(address: bigint): bigint {
  return address & ~7n;
}

/** E | PAC=EL0+EL1 | LSC=store | BAS selecting the 4 watched bytes within the doubleword. */
export function dbgwcr(address: bigint): bigint {
  const offset = address & 7n;
  if (offset > 4n) throw new RangeError(`watch address 0x${address.toString(16)}: 4 bytes at offset ${offset} cross a doubleword`);
  const bas = 0xfn << offset;
  return 1n | (0b11n << 1n) | (0b10n << 3n) | (bas << 5n);
}

/** A pending step over a trapped store; `slotMask` names the slots disabled for it. */
export interface SingleStep {
  pending: boolean;
  slotMask: number;
}
export const NO_STEP: SingleStep = Object.freeze({ pending: false, slotMask: 0 });

export interface DebugExit {
  hsr: number;
  far: bigint;
}

/**
 * Handles a KVM_EXIT_DEBUG. `armed` holds each slot's watched address (0n: unarmed); `onHit`
 * latches a slot that fired (reading its value and applying its rule, as debug-plane's fire does).
 * Returns the next step state: a step exit ends a pending step; a watchpoint whose FAR
 * falls in armed slots latches them and starts a step; anything else leaves it as is.
 */
export function dispatchDebugExit(exit: DebugExit, armed: readonly bigint[], step: SingleStep, onHit: (slot: number) => void): SingleStep {
  const ec = exceptionClass(exit.hsr);
  if (ec === ESR_EC_SOFTSTP_LOW) return step.pending ? NO_STEP : step;
  if (ec !== ESR_EC_WATCHPT_LOW) return step;
  let mask = 0;
  armed.slice(0, HW_SLOTS).forEach((kva, slot) => {
    if (kva === 0n) return;
    const end = kva + WATCH_BYTES > U64_MAX ? U64_MAX : kva + WATCH_BYTES;
    if (exit.far < kva || exit.far >= end) return;
    mask |= 1 << slot;
    onHit(slot);
  });
  // A FAR matching nothing (KVM's match-distance fallback, a stale arm) steps nothing.
  return mask === 0 ? step : { pending: true, slotMask: mask };
}

export interface GuestDebug {
  control: number;
  dbg_wvr: bigint[];
  dbg_wcr: bigint[];
}

/** kvm_guest_debug contents for `armed` (0n: unarmed) during `step`; all off gives control 0. */
export function buildDebugRegs(armed: readonly bigint[], step: SingleStep): GuestDebug {
  if (armed.length > HW_SLOTS) throw new RangeError(`${HW_SLOTS} watch slots, got ${armed.length}`);
  const dbg_wvr = new Array<bigint>(KVM_ARM_MAX_DBG_REGS).fill(0n);
  const dbg_wcr = new Array<bigint>(KVM_ARM_MAX_DBG_REGS).fill(0n);
  let any = false;
  armed.forEach((kva, slot) => {
    if (kva === 0n) return;
    any = true;
    dbg_wvr[slot] = dbgwvr(kva);
    // The slot being stepped over stays programmed but disabled, or the step re-traps.
    dbg_wcr[slot] = step.pending && step.slotMask & (1 << slot) ? dbgwcr(kva) & ~1n : dbgwcr(kva);
  });
  let control = any ? KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW : 0;
  if (step.pending) control |= KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP;
  return { control, dbg_wvr, dbg_wcr };
}

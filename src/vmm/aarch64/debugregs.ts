// arm64 hardware watchpoints: ESR decode, DBGWVR/DBGWCR encoding, and the debug-exit
// state machine. A watchpoint traps before the store retires, so after a hit the vCPU
// single-steps over the store with the matched slots disabled, then re-enables them.
import { WatchpointError } from '../errors.ts';
import type { HwWatch } from '../watchpoint-arch.ts';

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
// struct kvm_debug_exit_arch: hsr (ESR_EL2, u32) then, 8-aligned, far.
const EXIT_HSR = 0;
const EXIT_FAR = 8;

/** Exception class of an ESR_ELx (KVM's `hsr`). */
export function exceptionClass(hsr: number): number {
  return (hsr >>> 26) & 0x3f;
}

/** The watchpoint value register: the doubleword holding the watched bytes. */
export function dbgwvr(address: bigint): bigint {
  return address & ~7n;
}

/** Why the watched bytes at `address` cannot be selected: BAS picks bytes of one doubleword only. */
function crossing(address: bigint): string | undefined {
  const offset = address & 7n;
  return offset > 8n - WATCH_BYTES ? `${WATCH_BYTES} bytes at offset ${offset} cross a doubleword` : undefined;
}

/** E | PAC=EL0+EL1 | LSC=store | BAS selecting the 4 watched bytes within the doubleword. */
export function dbgwcr(address: bigint): bigint {
  const why = crossing(address);
  if (why) throw new WatchpointError(`watch address 0x${address.toString(16)}: ${why}`);
  const bas = 0xfn << (address & 7n);
  return 1n | (0b11n << 1n) | (0b10n << 3n) | (bas << 5n);
}

/** Throws unless DBGWCR as encoded here can watch `w`: a store to 4 bytes of one doubleword. */
export function checkWatch(w: HwWatch, slot: number): void {
  if (w.on !== 'write') throw new WatchpointError(`watch slot ${slot}: mode '${String(w.on)}' is not 'write' (arm64 watchpoints are armed for stores)`);
  if (BigInt(w.len) !== WATCH_BYTES) throw new WatchpointError(`watch slot ${slot}: length ${w.len} is not ${WATCH_BYTES} bytes (the arm64 watch width)`);
  // 0n marks an unarmed slot (dispatchDebugExit, buildDebugRegs), so address 0 cannot be armed.
  if (w.address <= 0n || w.address > U64_MAX) throw new WatchpointError(`watch slot ${slot}: address ${w.address} is not a non-zero u64`);
  const why = crossing(w.address);
  if (why) throw new WatchpointError(`watch slot ${slot}: address 0x${w.address.toString(16)}: ${why}`);
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

/** The ESR and FAR of kvm_run's struct kvm_debug_exit_arch. */
export function readDebugExit(exit: DataView): DebugExit {
  return { hsr: exit.getUint32(EXIT_HSR, true), far: exit.getBigUint64(EXIT_FAR, true) };
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
  if (armed.length > HW_SLOTS) throw new WatchpointError(`${HW_SLOTS} watch slots, got ${armed.length}`);
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

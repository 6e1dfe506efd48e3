// What generic code asks of an architecture's hardware watchpoints (x86 debug registers,
// arm64 DBGWVR/DBGWCR pairs): each arch implements it in its own directory and arch.ts
// picks the host's, so the debug plane, the latch and the config check name no architecture.
import type { GuestVirtAddr } from './guest-address.ts';

export type WatchLen = 1 | 2 | 4 | 8;
export type WatchOn = 'write' | 'readwrite';
/** A watch as generic code declares it; whether the hardware can take it is the arch's check. */
export interface HwWatch {
  /** What the hardware compares: guest-virtual (write traps take it as guest-physical: pagesOf). */
  address: GuestVirtAddr;
  len: WatchLen;
  on: WatchOn;
}

/** struct kvm_guest_debug as KVM_SET_GUEST_DEBUG takes it. */
export interface GuestDebug {
  /** KVM_GUESTDBG_* flags; 0 turns guest debugging off. */
  control: number;
  /** The u64 words of struct kvm_guest_debug_arch (x86: DR0..DR7; arm64: bcr, bvr, wcr, wvr). */
  arch: bigint[];
}

export interface WatchpointArch {
  /** Throws WatchpointError, with this arch's reason, unless its hardware can watch `w` in `slot`. */
  checkWatch(w: HwWatch, slot: number): void;
  /** One vCPU's registers: a hit may leave state behind (arm64 steps over the trapped store). */
  forVcpu(): VcpuWatchpoints;
}

export interface VcpuWatchpoints {
  /** What to load to arm `slots` (undefined: unarmed) in this vCPU's current state. */
  encode(slots: readonly (HwWatch | undefined)[]): GuestDebug;
  /**
   * Reads a debug exit (`exit`: kvm_run's struct kvm_debug_exit_arch) and calls `onHit` for each
   * armed slot that fired. True when the registers must be encoded and loaded again before the
   * next KVM_RUN even though `slots` did not change.
   */
  decode(exit: DataView, slots: readonly (HwWatch | undefined)[], onHit: (slot: number) => void): boolean;
}

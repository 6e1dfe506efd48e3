// arm64's side of WatchpointArch: DBGWVR/DBGWCR pairs from the armed slots, the ESR and FAR of
// a debug exit naming the hits. A watchpoint traps before the store retires, so each vCPU keeps
// its single step over that store (dispatchDebugExit's state) from one exit to the next.
import type { HwWatch, VcpuWatchpoints, WatchpointArch } from '../watchpoint-arch.ts';
import { buildDebugRegs, checkWatch, dispatchDebugExit, KVM_ARM_MAX_DBG_REGS, NO_STEP, readDebugExit, type SingleStep } from './debugregs.ts';

/** The slots as the arm64 logic takes them: each armed watch's address, 0n when unarmed. */
const addresses = (slots: readonly (HwWatch | undefined)[]): bigint[] => slots.map((w) => w?.address ?? 0n);

function vcpuWatchpoints(): VcpuWatchpoints {
  let step: SingleStep = NO_STEP;
  return {
    encode(slots) {
      // The address alone reaches the registers: check the rest of each watch here.
      for (const [slot, w] of slots.entries()) if (w) checkWatch(w, slot);
      const g = buildDebugRegs(addresses(slots), step);
      const unused = new Array<bigint>(KVM_ARM_MAX_DBG_REGS).fill(0n);
      // struct kvm_guest_debug_arch: dbg_bcr, dbg_bvr (no breakpoints), dbg_wcr, dbg_wvr.
      return { control: g.control, arch: [...unused, ...unused, ...g.dbg_wcr, ...g.dbg_wvr] };
    },
    decode(exit, slots, onHit) {
      const next = dispatchDebugExit(readDebugExit(exit), addresses(slots), step, onHit);
      // A new state object means a step over a store began or ended: the registers change with it.
      const changed = next !== step;
      step = next;
      return changed;
    },
  };
}

export const arm64Watchpoints: WatchpointArch = { checkWatch, forVcpu: vcpuWatchpoints };

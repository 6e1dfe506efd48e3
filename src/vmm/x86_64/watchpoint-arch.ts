// x86's side of WatchpointArch: DR0..DR3 and DR7 from the armed slots, DR6 naming the hits.
// Stateless: the CPU reports a data breakpoint after the write, so a hit needs no re-arming.
import type { VcpuWatchpoints, WatchpointArch } from '../watchpoint-arch.ts';
import { buildDebugRegs, checkWatch, DEBUG_EXIT_DR6, decodeDr6 } from './debugregs.ts';

const vcpuWatchpoints: VcpuWatchpoints = {
  encode: buildDebugRegs,
  decode(exit, slots, onHit) {
    // A B0..B3 bit for a slot nothing armed (a stale arm, a spurious exit) is no hit.
    for (const slot of decodeDr6(exit.getBigUint64(DEBUG_EXIT_DR6, true))) if (slots[slot]) onHit(slot);
    return false;
  },
};

export const x86Watchpoints: WatchpointArch = {
  checkWatch,
  forVcpu: () => vcpuWatchpoints,
};

// The host architecture behind one door (two files): generic code imports what is
// architecture-specific from here (pure logic: debug registers, layout, image headers, page
// walks) or from arch-machine.ts (building and setting up the machine: KVM, devices), in the
// manner of Cloud Hypervisor's arch/ crate. x86_64 is the one implemented; aarch64/ has its
// debug-register logic (the same shape: encode the armed slots, report which fired) but no
// machine yet. The split keeps koffi and the devices out of modules that only need the logic.
export { buildDebugRegs, checkWatch, decodeDr6, type HwWatch, type WatchLen, type WatchOn } from './x86_64/debugregs.ts';
export type { BareGuest, GuestPayload, LinuxGuest, VcpuStart } from './x86_64/machine.ts';
export { protocolString, readBzImageHeader } from './x86_64/bzimage.ts';
export { BARE_LOAD_ADDR, BARE_WATCH_BASE, UNMAPPED_MMIO_ADDR } from './x86_64/layout.ts';
export { translate } from './x86_64/page-walk.ts';

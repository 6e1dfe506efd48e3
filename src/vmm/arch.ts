// The host architecture behind one door (two files): generic code imports what is
// architecture-specific from here (pure logic: watchpoint hardware, layout, image headers, page
// walks) or from arch-machine.ts (building and setting up the machine: KVM, devices), in the
// manner of Cloud Hypervisor's arch/ crate. x86_64 is the one with a machine; aarch64/ implements
// the watchpoint interface (WatchpointArch) too, so hostWatchpoints() picks by host. The split
// keeps koffi and the devices out of modules that only need the logic.
import { arm64Watchpoints } from './aarch64/watchpoint-arch.ts';
import { HostResourceError } from './errors.ts';
import type { WatchpointArch } from './watchpoint-arch.ts';
import { x86Watchpoints } from './x86_64/watchpoint-arch.ts';
export type { BareGuest, GuestPayload, LinuxGuest, VcpuStart } from './x86_64/machine.ts';
export { protocolString, readBzImageHeader, readBzImageSetup } from './x86_64/bzimage.ts';
export { kernelElfHasPvhEntry } from './x86_64/kernel-elf.ts';
export { BARE_LOAD_ADDR, BARE_WATCH_BASE, UNMAPPED_MMIO_ADDR } from './x86_64/layout.ts';
export { translate } from './x86_64/page-walk.ts';

const WATCHPOINTS: Partial<Record<NodeJS.Architecture, WatchpointArch>> = { x64: x86Watchpoints, arm64: arm64Watchpoints };

/** The watchpoint hardware of `hostArch`; a function, so a host without one fails when asked, not on import. */
export function hostWatchpoints(hostArch: NodeJS.Architecture = process.arch): WatchpointArch {
  const arch = WATCHPOINTS[hostArch];
  if (!arch) throw new HostResourceError(`no hardware watchpoints for host architecture ${hostArch} (x64 and arm64 have them)`);
  return arch;
}

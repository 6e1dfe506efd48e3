// The vCPU-thread half of the debug plane: arming hardware watchpoints, dispatching their
// exits into the shared latch, parking for a freeze, and capturing register snapshots. The
// watchpoint registers are the host architecture's (WatchpointArch); nothing here decodes them.
import { guestPhysToU64, toGuestPhys, type GuestPhysAddr } from '../guest-address.ts';
import type { VcpuFd } from '../kvm.ts';
import type { GuestMemory } from '../memory.ts';
import { eventfdSignal, pollIn } from '../sys/libc.ts';
import { pagesOf, PAGE } from '../memslots.ts';
import { hostWatchpoints } from '../arch.ts';
import { snapshotRegs } from '../arch-machine.ts';
import type { WatchpointArch } from '../watchpoint-arch.ts';
import type { VmControl } from './control.ts';
import type { ArmedSlot, WatchpointLatch } from './latch.ts';

const FREEZE_POLL_MS = 100;

export function captureRegs(vcpu: VcpuFd, control: VmControl, index: number): void {
  const r = snapshotRegs(vcpu);
  control.storeSnapshot(index, r.ip, r.sp, r.pageTableRoot);
}

/** The value at `gpa`, `len` bytes wide (unsigned, little-endian), or undefined off RAM. */
function readWatched(mem: GuestMemory, gpa: bigint, len: number): bigint | undefined {
  try {
    const addr = toGuestPhys(gpa);
    if (len === 8) return mem.readU64(addr);
    if (len === 4) return BigInt(mem.readU32(addr));
    return BigInt([...mem.read(addr, len)].reduceRight((v, b) => (v << 8) | b, 0));
  } catch {
    return undefined; // not RAM (or a virtual address we cannot translate yet)
  }
}

export interface DebugDispatchOptions {
  index: number;
  latch: WatchpointLatch;
  memory: GuestMemory;
  /** Bit n set: a first latch of slot n freezes the VM. */
  freezeMask: number;
  /** Tells the VMM thread a freeze was requested (it kicks the other vCPUs). */
  onFreezeRequest: (slot: number) => void;
  control: VmControl;
}

/** Latches `slot` with the value written (through its rule) and asks for a freeze on a first latch. */
export function fire(o: DebugDispatchOptions, slot: number, w: ArmedSlot): void {
  // Where the value sits in guest-physical memory (`address` is guest-virtual when armed through page tables).
  const value = readWatched(o.memory, w.valueGpa ?? w.address, w.len);
  // A slot with a rule needs the value to judge it; one without latches on the write alone.
  if (value === undefined && (w.latchFrom !== undefined || w.endAt !== undefined)) return;
  const first = o.latch.offer(slot, o.index, value ?? 0n, w);
  if (first && (w.freeze || o.freezeMask & (1 << slot))) {
    o.control.requestFreeze();
    o.onFreezeRequest(slot);
  }
}

export interface DebugRegisterWatch {
  /** Loads the published armed set into this vCPU's debug registers when it (or the arch's state) changed. */
  beforeRun: () => void;
  /** Handles a KVM_EXIT_DEBUG: fires each armed slot the arch says was hit (none: spurious, ignored). */
  onDebug: (exit: DataView) => void;
}

/** The debug-register mechanism on one vCPU, through `arch`'s watchpoint registers. */
export function debugRegisterWatch(vcpu: Pick<VcpuFd, 'setGuestDebug'>, o: DebugDispatchOptions, arch: WatchpointArch = hostWatchpoints()): DebugRegisterWatch {
  const regs = arch.forVcpu();
  let loaded = -1; // the generation in the registers; -1: none, or stale after a hit
  return {
    beforeRun: () => {
      if (!o.latch.anyArmed) return; // the gate: idle until something is published
      if (o.latch.generation === loaded) return;
      const set = o.latch.readArmed();
      const dbg = regs.encode(set.slots);
      vcpu.setGuestDebug(dbg.control, dbg.arch);
      loaded = set.generation;
    },
    onDebug: (exit) => {
      const armed = o.latch.readArmed().slots;
      if (regs.decode(exit, armed, (slot) => fire(o, slot, armed[slot]!))) loaded = -1;
    },
  };
}

/**
 * The write-trap mechanism (for hosts whose KVM does not deliver debug-register hits): watched
 * pages are read-only memslots, so a guest store there exits as an MMIO write. Perform the
 * store, then fire every slot whose range it touched. The guest resumes after the store, as
 * after a debug trap.
 */
export function writeTrapHandler(o: DebugDispatchOptions): (addr: GuestPhysAddr, data: Uint8Array) => boolean {
  let generation = -1;
  let slots: (ArmedSlot | undefined)[] = [];
  let pages = new Set<number>();
  return (addr, data) => {
    if (o.latch.generation !== generation) {
      const set = o.latch.readArmed();
      generation = set.generation;
      slots = set.slots;
      pages = new Set(slots.flatMap((w) => (w ? pagesOf(w.address, w.len) : [])));
    }
    if (!pages.has(addr - (addr % PAGE))) return false;
    o.memory.write(addr, data);
    const start = guestPhysToU64(addr);
    const end = start + BigInt(data.length);
    slots.forEach((w, slot) => {
      if (w && start < w.address + BigInt(w.len) && w.address < end) fire(o, slot, w);
    });
    return true;
  };
}

/** What parking needs of a VM (FreezeOptions adds the vCPU for a vCPU's own thread). */
export interface ParkOptions {
  control: VmControl;
  hasImmediateExit: boolean;
  parkedEventFd: number;
  thawEventFd: number;
  killEventFd: number;
}

export interface FreezeOptions extends ParkOptions {
  index: number;
  vcpu: VcpuFd;
}

/** A vCPU to park: `complete` runs it once with immediate_exit set (KVM_RUN on its own thread). */
export interface Parkable {
  index: number;
  vcpu: VcpuFd;
  complete: () => void;
}

/** Parks `vcpus` until thawed or killed, each having drained a pending I/O exit and stored its registers. */
export function parkFrozen(vcpus: readonly Parkable[], o: ParkOptions): void {
  for (const p of vcpus) {
    if (o.hasImmediateExit) {
      // Completes a pending PIO/MMIO exit without entering the guest, so the registers are final.
      p.vcpu.setImmediateExit(true);
      p.complete();
      p.vcpu.setImmediateExit(false);
    }
    captureRegs(p.vcpu, o.control, p.index);
    o.control.setParked(p.index, true);
  }
  eventfdSignal(o.parkedEventFd);
  while (o.control.freezeRequested && !o.control.killed) {
    pollIn([o.thawEventFd, o.killEventFd], FREEZE_POLL_MS);
  }
  for (const p of vcpus) o.control.setParked(p.index, false);
}

/** Parks this vCPU (run on its own thread) until thawed or killed. */
export function freezeHandler(o: FreezeOptions): () => void {
  return () => parkFrozen([{ index: o.index, vcpu: o.vcpu, complete: () => o.vcpu.runOnce() }], o);
}

// Watchpoints as a VM declares them, and their assignment to the four hardware slots.
import { hostWatchpoints } from './arch.ts';
import { EXIT_KIND_SLOT, WATCH_SLOTS, type ArmedSlot } from './vcpu/latch.ts';
import { WatchpointError } from './errors.ts';
import type { GuestPhysAddr, GuestVirtAddr } from './guest-address.ts';
import type { WatchLen, WatchOn } from './watchpoint-arch.ts';

export interface WatchpointSpec {
  name: string;
  /** Guest address watched (bare-metal guests map it 1:1: guest-physical too). */
  address: GuestVirtAddr;
  len: WatchLen;
  on: WatchOn;
  /** exit_kind: slot 0, latches only for an error exit kind; user: slots 1..3. */
  kind: 'exit_kind' | 'user';
  /** Freeze every vCPU (and snapshot them) when this first latches; the guest then resumes. */
  freeze: boolean;
  /** Latch only when the value written is at least this (the runner's rule: an error exit kind). */
  latchFrom?: bigint;
  /** A write of this value ends the watch until it is armed anew (the runner's rule: exit kind DONE). */
  endAt?: bigint;
}

/** A write watchpoint armed while the VM runs: debug registers watch `gva`, a write trap `gpa`. */
export type RuntimeWatchpoint = Omit<WatchpointSpec, 'address' | 'on'> & { gva: GuestVirtAddr; gpa: GuestPhysAddr };

export interface WatchpointResult {
  slot: number;
  hit: boolean;
  vcpu?: number;
  /** The watched value right after the latching write, at the watch's width (unsigned). */
  value?: bigint;
}

/** Slot index per watchpoint: the exit-kind watch takes slot 0, user watches 1..3 in order. */
export function assignSlots(specs: readonly WatchpointSpec[]): Map<string, number> {
  const slots = new Map<string, number>();
  const exitKinds = specs.filter((s) => s.kind === 'exit_kind');
  const users = specs.filter((s) => s.kind === 'user');
  if (exitKinds.length > 1) throw new WatchpointError(`watchpoints: at most one has kind exit_kind (got ${exitKinds.map((s) => s.name).join(', ')})`);
  if (users.length > WATCH_SLOTS - 1) throw new WatchpointError(`watchpoints: at most ${WATCH_SLOTS - 1} have kind user (got ${users.length})`);
  const names = new Set<string>();
  for (const s of specs) {
    if (names.has(s.name)) throw new WatchpointError(`watchpoints: the name '${s.name}' is used twice`);
    names.add(s.name);
  }
  if (exitKinds[0]) slots.set(exitKinds[0].name, EXIT_KIND_SLOT);
  users.forEach((s, i) => {
    slots.set(s.name, i + 1);
  });
  const arch = hostWatchpoints();
  for (const s of specs) arch.checkWatch(s, slots.get(s.name)!);
  return slots;
}

export function armedSlots(specs: readonly WatchpointSpec[], slots: Map<string, number>): (ArmedSlot | undefined)[] {
  const armed: (ArmedSlot | undefined)[] = new Array(WATCH_SLOTS).fill(undefined);
  for (const s of specs) armed[slots.get(s.name)!] = { address: s.address, len: s.len, on: s.on, ...(s.latchFrom !== undefined ? { latchFrom: s.latchFrom } : {}) };
  return armed;
}

export function freezeMask(specs: readonly WatchpointSpec[], slots: Map<string, number>): number {
  return specs.reduce((m, s) => (s.freeze ? m | (1 << slots.get(s.name)!) : m), 0);
}

// A VM's watchpoints from the VMM's side: the declared ones in their slots, arming and disarming
// at run time (the vCPUs parked while the armed set changes, and under writetrap the watched
// pages re-planned as read-only memslots), and what each latched.
import type { WatchMechanism } from './config.ts';
import { WatchpointError } from './errors.ts';
import type { EventFds } from './event-fds.ts';
import { guestPhysToU64 } from './guest-address.ts';
import type { GuestMemory } from './memory.ts';
import { pagesOf, planMemslots, type MemslotTable } from './memslots.ts';
import { WatchpointLatch, type ArmedSlot } from './vcpu/latch.ts';
import { PARK_TIMEOUT_MS } from './vcpu/manager.ts';
import { armedSlots, assignSlots, freezeMask, type RuntimeWatchpoint, type WatchpointResult, type WatchpointSpec } from './watchpoints.ts';

/** What arming needs of the vCPUs: parking them all, and letting them go. */
export interface ParkingLot {
  freeze(trigger: string, keep: boolean): Promise<unknown>;
  thaw(): void;
  readonly allParked: boolean;
}

export class WatchpointController {
  readonly latch = WatchpointLatch.create();
  private readonly specs: WatchpointSpec[];
  private readonly slots: Map<string, number>;
  private readonly armed: (ArmedSlot | undefined)[];
  private latchEdgeCount = 0;
  /** The vCPUs, once they exist (arming parks them). */
  vcpus?: ParkingLot;

  constructor(
    declared: readonly WatchpointSpec[],
    readonly mechanism: WatchMechanism,
    private readonly memory: GuestMemory,
    private readonly memslots: MemslotTable,
    private readonly fds: EventFds,
  ) {
    this.specs = [...declared];
    this.slots = assignSlots(this.specs);
    this.armed = armedSlots(this.specs, this.slots);
    if (this.specs.length > 0) this.latch.publish(this.armed);
  }

  /** Bit n set: the first latch of slot n freezes the VM. */
  get freezeMask(): number {
    return freezeMask(this.specs, this.slots);
  }

  /** The watchpoint in `slot` (for a freeze's trigger). */
  nameOf(slot: number): string {
    return [...this.slots].find(([, s]) => s === slot)?.[0] ?? `slot${slot}`;
  }

  /**
   * Arms a write watchpoint while the VM runs, for an address known only now (a kernel
   * variable found through kallsyms and the guest's page tables). The debug registers watch
   * `gva`; a write trap watches `gpa`, where slot 0 also reads the exit kind.
   */
  async arm(w: RuntimeWatchpoint): Promise<void> {
    const gpa = guestPhysToU64(w.gpa);
    const rules = { ...(w.latchFrom !== undefined ? { latchFrom: w.latchFrom } : {}), ...(w.endAt !== undefined ? { endAt: w.endAt } : {}) };
    const spec: WatchpointSpec = { name: w.name, address: gpa, len: w.len, on: 'write', kind: w.kind, freeze: w.freeze, ...rules };
    // Armed again (a new scheduler attached): the same slot, so its result stays one entry.
    const known = this.slots.get(w.name);
    const slot = known ?? assignSlots([...this.specs, spec]).get(w.name)!; // the same rules as at create
    const writetrap = this.mechanism === 'writetrap';
    if (known === undefined) {
      this.specs.push(spec);
      this.slots.set(w.name, slot);
    } else {
      this.specs[this.specs.findIndex((x) => x.name === w.name)] = spec;
    }
    this.armed[slot] = { address: writetrap ? gpa : w.gva, len: w.len, on: 'write', valueGpa: gpa, freeze: w.freeze, ...rules };
    // Published first: a trapped store must find its slot the moment the page turns read-only.
    this.latch.publish(this.armed);
    await this.applyArmedSet(w.name);
  }

  /**
   * Stops watching `name` (armed at run time): its slot goes idle and, under writetrap, its page
   * writable again. Its result (a hit it latched) stays; arming the name again reuses the slot.
   */
  async disarm(name: string): Promise<void> {
    const slot = this.slots.get(name);
    if (slot === undefined || !this.armed[slot]) return;
    this.armed[slot] = undefined;
    this.latch.publish(this.armed);
    await this.applyArmedSet(name);
  }

  /**
   * Makes the published armed set take effect on every vCPU now, with all of them parked
   * meanwhile: debug registers are loaded by each vCPU before its next KVM_RUN, and a vCPU
   * that never leaves the guest on its own (spinning, or halted inside KVM) would keep its old
   * ones; under writetrap, exactly the armed pages become read-only memslots.
   */
  private async applyArmedSet(name: string): Promise<void> {
    const vcpus = this.vcpus;
    if (!vcpus) return; // before the vCPUs exist: they arm from the published set
    await vcpus.freeze('arm', false);
    try {
      // A vCPU parked late still loads the debug registers before it runs again; memslots,
      // though, must not change under a vCPU inside KVM_RUN.
      if (this.mechanism !== 'writetrap') return;
      if (!vcpus.allParked) throw new WatchpointError(`watchpoint '${name}': not every vCPU parked within ${PARK_TIMEOUT_MS} ms; the memslots stay as they were`);
      this.memslots.replace(
        planMemslots(
          this.memory.regions,
          this.armed.flatMap((a) => (a ? pagesOf(a.address, a.len) : [])),
        ),
      );
    } finally {
      vcpus.thaw();
    }
  }

  /** Watch-slot latch edges seen so far (one per slot that latched). */
  latchEdges(): number {
    this.latchEdgeCount += Number(this.fds.drain(this.fds.latch));
    return this.latchEdgeCount;
  }

  results(): Record<string, WatchpointResult> {
    const out: Record<string, WatchpointResult> = {};
    for (const [name, slot] of this.slots) {
      const hit = this.latch.hit(slot);
      out[name] = hit ? { slot, hit: true, vcpu: hit.vcpu, value: hit.value } : { slot, hit: false };
    }
    return out;
  }
}

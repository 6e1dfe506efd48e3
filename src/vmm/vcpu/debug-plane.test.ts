import { afterEach, describe, expect, it } from 'vitest';
import { GuestMemory } from '../memory.ts';
import { ESR_EC_SOFTSTP_LOW, ESR_EC_WATCHPT_LOW } from '../aarch64/debugregs.ts';
import { arm64Watchpoints } from '../aarch64/watchpoint-arch.ts';
import type { GuestDebug, WatchpointArch } from '../watchpoint-arch.ts';
import { arm64DebugExit, x86DebugExit as dr6 } from '../debug-exits.testing.ts';
import { KVM_GUESTDBG_ENABLE, KVM_GUESTDBG_USE_HW_BP } from '../x86_64/debugregs.ts';
import { x86Watchpoints } from '../x86_64/watchpoint-arch.ts';
import { VmControl } from './control.ts';
import { debugRegisterWatch } from './debug-plane.ts';
import { WatchpointLatch, type ArmedSlot } from './latch.ts';

// Through x86's registers unless a test says otherwise (the contract both architectures keep
// is in watchpoint-arch.test.ts): dr6(...slots) is a debug exit naming those slots.

const KIND_GPA = 0x1000;
const exitKind: ArmedSlot = { address: 0xffff_ffff_8234_5678n, len: 4, on: 'write', valueGpa: BigInt(KIND_GPA), latchFrom: 1024n };
const user = (gpa: number, extra: Partial<ArmedSlot> = {}): ArmedSlot => ({ address: BigInt(gpa), len: 4, on: 'write', ...extra });

let memory: GuestMemory | undefined;
afterEach(() => {
  memory?.release();
  memory = undefined;
});

/** debugRegisterWatch for vCPU 1 over 8 KiB of real RAM, recording loads, edges and freeze requests. */
function dispatcher(freezeMask = 0, arch: WatchpointArch = x86Watchpoints) {
  const edges: number[] = [];
  const freezeRequests: number[] = [];
  const loaded: GuestDebug[] = [];
  const latch = WatchpointLatch.create({ onEdge: (slot) => edges.push(slot) });
  const control = VmControl.create(2);
  memory = GuestMemory.allocate([{ gpa: 0, size: 0x2000 }]);
  const vcpu = { setGuestDebug: (control: number, arch: readonly bigint[]) => loaded.push({ control, arch: [...arch] }) };
  const opts = { index: 1, latch, memory, freezeMask, control, onFreezeRequest: (slot: number) => freezeRequests.push(slot) };
  const { beforeRun, onDebug } = debugRegisterWatch(vcpu, opts, arch);
  return { latch, control, memory, beforeRun, onDebug, loaded, edges, freezeRequests };
}

describe('debugRegisterWatch: debug exits', () => {
  it('latches exactly the armed slots DR6 bits 0..3 name, with the value at each address', () => {
    const d = dispatcher();
    d.latch.publish([undefined, user(0x1008), user(0x1010), user(0x1018)]);
    d.memory.writeU32(0x1008, 0x11);
    d.memory.writeU32(0x1018, 0x33);
    d.onDebug(dr6(1, 3));
    expect(d.latch.hitSlots()).toEqual([1, 3]);
    expect(d.latch.hit(1)).toEqual({ vcpu: 1, value: 0x11n });
    expect(d.latch.hit(3)).toEqual({ vcpu: 1, value: 0x33n });
    expect(d.edges).toEqual([1, 3]);
  });

  it('reads a user watch armed on a guest-virtual address (a kernel symbol) at its guest-physical twin', () => {
    const d = dispatcher();
    d.latch.publish([undefined, user(0x1008, { address: 0xffff_ffff_8250_0008n, valueGpa: 0x1008n })]);
    d.memory.writeU32(0x1008, 6);
    d.onDebug(dr6(1));
    expect(d.latch.hit(1)).toEqual({ vcpu: 1, value: 6n });
  });

  it('reads each watch at its declared width, unsigned: 1, 2 and 8 bytes', () => {
    const d = dispatcher();
    const u64 = (v: bigint) => new Uint8Array(new BigUint64Array([v]).buffer);
    d.latch.publish([user(0x1000, { len: 8 }), user(0x1008, { len: 1 }), user(0x1010, { len: 2 }), user(0x1018, { len: 8 })]);
    d.memory.write(0x1000, u64(0xffff_ffff_ffff_fffen));
    d.memory.writeU32(0x1008, 0x1234_56f0);
    d.memory.writeU32(0x1010, 0x1234_f00d);
    // jiffies as Linux starts it on 64-bit: 2^32 - 300 s of ticks; its low 32 bits read signed are negative.
    d.memory.write(0x1018, u64(0xfffe_e748n));
    d.onDebug(dr6(0, 1, 2, 3));
    expect([0, 1, 2, 3].map((s) => d.latch.hit(s)!.value)).toEqual([0xffff_ffff_ffff_fffen, 0xf0n, 0xf00dn, 0xfffe_e748n]);
  });

  it('ignores a spurious DR6 (no slot bits) and a bit for a slot nothing armed', () => {
    const d = dispatcher(0b1111);
    d.latch.publish([exitKind, user(0x1008)]);
    d.memory.writeU32(KIND_GPA, 1024);
    d.onDebug(dr6());
    d.onDebug(dr6(2));
    expect(d.latch.hitSlots()).toEqual([]);
    expect(d.edges).toEqual([]);
    expect(d.freezeRequests).toEqual([]);
  });

  it('latches a slot with a rule (latchFrom 1024: an error exit kind) only once the u32 there reaches it', () => {
    const d = dispatcher();
    d.latch.publish([exitKind]);
    for (const clean of [1, 1023]) {
      d.memory.writeU32(KIND_GPA, clean);
      d.onDebug(dr6(0));
    }
    expect(d.latch.hit(0)).toBeUndefined();
    // A byte or halfword read of 0x10000 would see 0: the whole u32 is the kind.
    d.memory.writeU32(KIND_GPA, 0x1_0000);
    d.onDebug(dr6(0));
    expect(d.latch.hit(0)).toEqual({ vcpu: 1, value: 0x1_0000n });
    expect(d.edges).toEqual([0]);
  });

  it('asks for one freeze on the first latch of a freezing slot, and later latches write no second edge', () => {
    const d = dispatcher();
    d.latch.publish([undefined, user(0x1008, { freeze: true })]);
    d.onDebug(dr6(1));
    expect(d.control.freezeRequested).toBe(true);
    d.control.clearFreeze();
    d.onDebug(dr6(1));
    d.onDebug(dr6(1));
    expect(d.edges).toEqual([1]);
    expect(d.freezeRequests).toEqual([1]);
    expect(d.control.freezeRequested).toBe(false);
  });

  it('freezes for a slot in freezeMask and not for one outside it', () => {
    const d = dispatcher(0b100);
    d.latch.publish([undefined, user(0x1008), user(0x1010)]);
    d.onDebug(dr6(1));
    expect(d.control.freezeRequested).toBe(false);
    d.onDebug(dr6(2));
    expect(d.freezeRequests).toEqual([2]);
    expect(d.control.freezeRequested).toBe(true);
  });
});

describe('debugRegisterWatch: arming', () => {
  it('stays idle until something is published', () => {
    const d = dispatcher();
    d.beforeRun();
    d.beforeRun();
    expect(d.loaded).toEqual([]);
  });

  it('sets guest debug once per published generation, and not again after an x86 hit', () => {
    const d = dispatcher();
    d.latch.publish([exitKind]);
    d.beforeRun();
    d.beforeRun();
    expect(d.loaded).toEqual([{ control: KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP, arch: [exitKind.address, 0n, 0n, 0n, 0n, 0n, 0n, 0xd0703n] }]);
    d.latch.publish([exitKind, user(0x1008)]);
    d.beforeRun();
    d.onDebug(dr6(1));
    d.beforeRun();
    expect(d.loaded).toHaveLength(2);
    expect(d.loaded[1]!.arch.slice(0, 2)).toEqual([exitKind.address, 0x1008n]);
  });

  it("loads again when a hit changes the arch's state: arm64 steps over the store, then re-enables the slot", () => {
    const d = dispatcher(0, arm64Watchpoints);
    d.latch.publish([undefined, user(0x1008)]);
    d.memory.writeU32(0x1008, 7);
    d.beforeRun();
    d.onDebug(arm64DebugExit(ESR_EC_WATCHPT_LOW, 0x1008n));
    d.beforeRun();
    d.beforeRun();
    d.onDebug(arm64DebugExit(ESR_EC_SOFTSTP_LOW));
    d.beforeRun();
    expect(d.loaded.map((g) => g.control)).toEqual([0x20001, 0x20003, 0x20001]);
    expect(d.latch.hit(1)).toEqual({ vcpu: 1, value: 7n });
  });

  it('turns guest debugging off when the armed set is emptied', () => {
    const d = dispatcher();
    d.latch.publish([exitKind]);
    d.beforeRun();
    d.latch.publish([]);
    d.beforeRun();
    expect(d.loaded.at(-1)).toEqual({ control: 0, arch: [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n] });
  });
});

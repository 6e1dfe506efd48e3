import { describe, expect, it } from 'vitest';
import { arm64DebugExit as exit } from '../debug-exits.testing.ts';
import type { HwWatch } from '../watchpoint-arch.ts';
import { ESR_EC_SOFTSTP_LOW, ESR_EC_WATCHPT_LOW } from './debugregs.ts';
import { arm64Watchpoints } from './watchpoint-arch.ts';

const A = 0xffff_ffff_8100_1000n;
const slots: (HwWatch | undefined)[] = [undefined, { address: A + 4n, len: 4, on: 'write' }, undefined, undefined];
// Word indices in struct kvm_guest_debug_arch: dbg_bcr[16], dbg_bvr[16], dbg_wcr[16], dbg_wvr[16].
const WCR = 32;
const WVR = 48;

describe('arm64Watchpoints', () => {
  it('loads no breakpoints, then the watch control and value registers', () => {
    const g = arm64Watchpoints.forVcpu().encode(slots);
    expect(g.control).toBe(0x20001);
    expect(g.arch).toHaveLength(64);
    expect(g.arch.slice(0, WCR).every((v) => v === 0n)).toBe(true);
    expect(g.arch.slice(WCR, WCR + 4)).toEqual([0n, 0x1e17n, 0n, 0n]);
    expect(g.arch.slice(WVR, WVR + 4)).toEqual([0n, A, 0n, 0n]);
  });

  it('asks for a reload on a hit and on the step that ends it, stepping with the slot disabled between', () => {
    const regs = arm64Watchpoints.forVcpu();
    const hits: number[] = [];
    const onHit = (slot: number) => hits.push(slot);
    expect(regs.decode(exit(ESR_EC_WATCHPT_LOW, A + 4n), slots, onHit)).toBe(true);
    const stepping = regs.encode(slots);
    expect(stepping.control).toBe(0x20003);
    expect(stepping.arch[WCR + 1]).toBe(0x1e16n);
    expect(regs.decode(exit(ESR_EC_SOFTSTP_LOW), slots, onHit)).toBe(true);
    expect(regs.encode(slots)).toMatchObject({ control: 0x20001 });
    expect(regs.encode(slots).arch[WCR + 1]).toBe(0x1e17n);
    // A step exit with nothing pending changes nothing.
    expect(regs.decode(exit(ESR_EC_SOFTSTP_LOW), slots, onHit)).toBe(false);
    expect(hits).toEqual([1]);
  });

  it("keeps each vCPU's step its own", () => {
    const a = arm64Watchpoints.forVcpu();
    const b = arm64Watchpoints.forVcpu();
    a.decode(exit(ESR_EC_WATCHPT_LOW, A + 4n), slots, () => {});
    expect(a.encode(slots).control).toBe(0x20003);
    expect(b.encode(slots).control).toBe(0x20001);
  });

  it('refuses what DBGWCR as encoded here cannot watch: readwrite, and address 0 (an unarmed slot)', () => {
    expect(() => arm64Watchpoints.checkWatch({ address: A, len: 4, on: 'readwrite' }, 2)).toThrow("watch slot 2: mode 'readwrite' is not 'write'");
    expect(() => arm64Watchpoints.checkWatch({ address: 0n, len: 4, on: 'write' }, 0)).toThrow('watch slot 0: address 0 is not a non-zero u64');
    expect(() => arm64Watchpoints.checkWatch({ address: A + 4n, len: 4, on: 'write' }, 0)).not.toThrow();
  });
});

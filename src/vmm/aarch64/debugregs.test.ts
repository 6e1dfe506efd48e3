import { describe, expect, it } from 'vitest';
import { buildDebugRegs, dbgwcr, dbgwvr, dispatchDebugExit, ESR_EC_SOFTSTP_LOW, ESR_EC_WATCHPT_LOW, exceptionClass, NO_STEP, type SingleStep } from './debugregs.ts';

const A = 0xffff_ffff_8100_1000n;
const U64_MAX = (1n << 64n) - 1n;
const esr = (ec: number, iss = 0) => ((ec << 26) | iss) >>> 0;
const watchHit = (far: bigint) => ({ hsr: esr(ESR_EC_WATCHPT_LOW, 0x46), far });
const stepExit = { hsr: esr(ESR_EC_SOFTSTP_LOW, 1 << 25), far: 0n };

/** Records the slots dispatchDebugExit reports hit (latching them is the caller's: debug-plane's fire). */
function setup() {
  const hits: number[] = [];
  return { hits, onHit: (slot: number) => void hits.push(slot) };
}

describe('exceptionClass', () => {
  it('takes ESR bits 31:26, ignoring IL and ISS', () => {
    expect(exceptionClass(esr(0x34))).toBe(0x34);
    expect(exceptionClass(esr(0x34, 0x1ff_ffff))).toBe(0x34);
    expect(exceptionClass(esr(0x32, 1 << 25))).toBe(0x32);
    expect(exceptionClass(0x34 << 26)).toBe(0x34); // negative as an int32: still decoded
    expect(exceptionClass(0xf200_0000)).toBe(0x3c);
    expect(exceptionClass(0)).toBe(0);
  });

  it('names the two classes the dispatch acts on', () => {
    expect(ESR_EC_WATCHPT_LOW).toBe(0x34);
    expect(ESR_EC_SOFTSTP_LOW).toBe(0x32);
  });
});

describe('dbgwvr / dbgwcr', () => {
  it('aligns the value register down to the doubleword', () => {
    expect(dbgwvr(0xffff_ffff_8100_1004n)).toBe(0xffff_ffff_8100_1000n);
    expect(dbgwvr(0xffff_ffff_8100_1007n)).toBe(0xffff_ffff_8100_1000n);
    expect(dbgwvr(A)).toBe(A);
  });

  it('encodes E, PAC=EL0+EL1, LSC=store and BAS=0x0F at offset 0 as 0x1F7', () => {
    expect(dbgwcr(A)).toBe(0x1f7n);
  });

  it('shifts BAS with the offset in the doubleword: 0xF0 at 4 gives 0x1E17', () => {
    expect(dbgwcr(A + 4n)).toBe(0x1e17n);
    expect(dbgwcr(A + 2n)).toBe(0x797n);
  });

  it('refuses 4 bytes that would cross into the next doubleword', () => {
    expect(() => dbgwcr(A + 5n)).toThrow('4 bytes at offset 5 cross a doubleword');
  });
});

describe('dispatchDebugExit (arm64)', () => {
  it('reports the slot whose range holds FAR and steps over it with only that slot', () => {
    const t = setup();
    const next = dispatchDebugExit(watchHit(A + 4n), [0n, A, A + 4n, A + 8n], NO_STEP, t.onHit);
    expect(next).toEqual({ pending: true, slotMask: 0b0100 });
    expect(t.hits).toEqual([2]);
    expect(t.hits).toEqual([2]);
  });

  it('matches anywhere in [kva, kva+4) and nowhere else', () => {
    const t = setup();
    const armed = [0n, A, 0n, 0n];
    expect(dispatchDebugExit(watchHit(A + 3n), armed, NO_STEP, t.onHit)).toEqual({ pending: true, slotMask: 0b10 });
    expect(dispatchDebugExit(watchHit(A + 4n), armed, NO_STEP, t.onHit)).toBe(NO_STEP);
    expect(dispatchDebugExit(watchHit(A - 1n), armed, NO_STEP, t.onHit)).toBe(NO_STEP);
  });

  it('reports every overlapping slot and puts them all in the step mask', () => {
    const t = setup();
    const next = dispatchDebugExit(watchHit(A + 3n), [0n, A, A + 2n, A + 4n], NO_STEP, t.onHit);
    expect(next).toEqual({ pending: true, slotMask: 0b0110 });
    expect(t.hits).toEqual([1, 2]);
  });

  it("reports slot 0 like any other (whether its value is a hit is the caller's rule) and steps over the store", () => {
    const t = setup();
    expect(dispatchDebugExit(watchHit(A), [A, 0n, 0n, 0n], NO_STEP, t.onHit)).toEqual({ pending: true, slotMask: 0b1 });
    expect(t.hits).toEqual([0]);
  });

  it('leaves the state alone when FAR matches no armed slot', () => {
    const t = setup();
    const state = dispatchDebugExit(watchHit(0x1234n), [A, A + 8n, 0n, 0n], NO_STEP, t.onHit);
    expect(state).toBe(NO_STEP);
    expect(t.hits).toEqual([]);
  });

  it('treats address 0 as unarmed even when FAR is 0', () => {
    const t = setup();
    expect(dispatchDebugExit(watchHit(0n), [0n, 0n, 0n, 0n], NO_STEP, t.onHit)).toBe(NO_STEP);
    expect(t.hits).toEqual([]);
  });

  it('saturates the range at 2^64-1 as the reference does', () => {
    const t = setup();
    const top = U64_MAX - 1n;
    expect(dispatchDebugExit(watchHit(top), [0n, top, 0n, 0n], NO_STEP, t.onHit)).toEqual({ pending: true, slotMask: 0b10 });
    const u = setup();
    expect(dispatchDebugExit(watchHit(U64_MAX), [0n, top, 0n, 0n], NO_STEP, u.onHit)).toBe(NO_STEP);
  });

  it('ends a pending step on the software-step exit without latching', () => {
    const t = setup();
    const pending: SingleStep = { pending: true, slotMask: 0b10 };
    expect(dispatchDebugExit(stepExit, [0n, A, 0n, 0n], pending, t.onHit)).toEqual({ pending: false, slotMask: 0 });
    expect(t.hits).toEqual([]);
  });

  it('ignores a software-step exit with nothing pending, keeping the state object', () => {
    const t = setup();
    const idle: SingleStep = { pending: false, slotMask: 99 };
    expect(dispatchDebugExit(stepExit, [A, A + 4n, A + 8n, A + 12n], idle, t.onHit)).toBe(idle);
    expect(t.hits).toEqual([]);
  });

  it('ignores other exception classes, even with FAR inside an armed slot', () => {
    const t = setup();
    for (const ec of [0x30, 0x3c, 0x33, 0x35, 0x00]) {
      expect(dispatchDebugExit({ hsr: esr(ec), far: A }, [A, A, A, A], NO_STEP, t.onHit)).toBe(NO_STEP);
    }
    expect(t.hits).toEqual([]);
  });

  it('runs hit, step, re-hit: each hit reported, the step disarming only that slot', () => {
    const t = setup();
    const armed = [0n, A + 4n, 0n, 0n];
    expect(buildDebugRegs(armed, NO_STEP).dbg_wcr[1]).toBe(0x1e17n);

    let step = dispatchDebugExit(watchHit(A + 4n), armed, NO_STEP, t.onHit);
    expect(step).toEqual({ pending: true, slotMask: 0b10 });
    const stepping = buildDebugRegs(armed, step);
    expect(stepping.control).toBe(0x20003);
    expect(stepping.dbg_wcr[1]).toBe(0x1e16n);

    step = dispatchDebugExit(stepExit, armed, step, t.onHit);
    expect(step).toEqual(NO_STEP);
    const rearmed = buildDebugRegs(armed, step);
    expect(rearmed.control).toBe(0x20001);
    expect(rearmed.dbg_wcr[1]).toBe(0x1e17n);

    step = dispatchDebugExit(watchHit(A + 5n), armed, step, t.onHit);
    expect(step).toEqual({ pending: true, slotMask: 0b10 });
    expect(t.hits).toEqual([1, 1]);
  });
});

describe('buildDebugRegs (arm64)', () => {
  it('programs WVR/WCR for armed slots and enables hardware debug', () => {
    const g = buildDebugRegs([A + 4n, 0n, A + 8n, 0n], NO_STEP);
    expect(g.control).toBe(0x20001);
    expect(g.dbg_wvr.length).toBe(16);
    expect(g.dbg_wcr.length).toBe(16);
    expect(g.dbg_wvr.slice(0, 4)).toEqual([A, 0n, A + 8n, 0n]);
    expect(g.dbg_wcr.slice(0, 4)).toEqual([0x1e17n, 0n, 0x1f7n, 0n]);
    expect(g.dbg_wcr.slice(4).every((v) => v === 0n)).toBe(true);
  });

  it('clears E only for the slots in the step mask and asks KVM to single-step', () => {
    const g = buildDebugRegs([A, A + 4n, A + 8n, 0n], { pending: true, slotMask: 0b101 });
    expect(g.control).toBe(0x20003);
    expect(g.dbg_wcr.slice(0, 4)).toEqual([0x1f6n, 0x1e17n, 0x1f6n, 0n]);
  });

  it('is all zero with control 0 when nothing is armed or stepping', () => {
    const g = buildDebugRegs([0n, 0n, 0n, 0n], NO_STEP);
    expect(g.control).toBe(0);
    expect(g.dbg_wvr).toEqual(new Array(16).fill(0n));
    expect(g.dbg_wcr).toEqual(new Array(16).fill(0n));
  });

  it('rejects more than four slots', () => {
    expect(() => buildDebugRegs([A, A, A, A, A], NO_STEP)).toThrow('4 watch slots, got 5');
  });
});

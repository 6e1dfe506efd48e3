import { describe, expect, it } from 'vitest';
import { ESR_EC_WATCHPT_LOW } from './aarch64/debugregs.ts';
import { arm64Watchpoints } from './aarch64/watchpoint-arch.ts';
import { arm64DebugExit, x86DebugExit } from './debug-exits.testing.ts';
import type { HwWatch } from './watchpoint-arch.ts';
import { x86Watchpoints } from './x86_64/watchpoint-arch.ts';

// The contract generic code relies on, run against each architecture's implementation. `hit`
// builds the debug exit (struct kvm_debug_exit_arch) the hardware reports for a store to
// `address` caught by `slot`; `refused` is each arch's reason for the two watches it cannot take.
const cases = [
  {
    name: 'x86_64',
    arch: x86Watchpoints,
    hit: (slot: number) => x86DebugExit(slot),
    refused: { unaligned: 'watch slot 1: address 0x1006 is not aligned to its 4-byte length', oversized: 'watch slot 1: length 16 is not 1, 2, 4 or 8 bytes' },
  },
  {
    name: 'aarch64',
    arch: arm64Watchpoints,
    hit: (_slot: number, address: bigint) => arm64DebugExit(ESR_EC_WATCHPT_LOW, address),
    refused: { unaligned: 'watch slot 1: address 0x1006: 4 bytes at offset 6 cross a doubleword', oversized: 'watch slot 1: length 16 is not 4 bytes (the arm64 watch width)' },
  },
];

const A = 0xffff_ffff_8100_1000n;
const watch: HwWatch = { address: A, len: 4, on: 'write' };
const atSlot1 = [undefined, watch, undefined, undefined];
const unaligned: HwWatch = { address: 0x1006n, len: 4, on: 'write' };
const oversized = { address: 0x1000n, len: 16, on: 'write' } as unknown as HwWatch;

describe.each(cases)('WatchpointArch contract: $name', ({ arch, hit, refused }) => {
  it('arms a 4-byte write watch at slot 1, and reports slot 1 when it fires', () => {
    expect(() => arch.checkWatch(watch, 1)).not.toThrow();
    const regs = arch.forVcpu();
    const loaded = regs.encode(atSlot1);
    expect(loaded.control).not.toBe(0);
    expect(loaded.arch).toContain(A);
    const hits: number[] = [];
    regs.decode(hit(1, A), atSlot1, (slot) => hits.push(slot));
    expect(hits).toEqual([1]);
  });

  it('reports nothing for an exit that names no armed slot', () => {
    const hits: number[] = [];
    arch.forVcpu().decode(hit(2, A + 8n), atSlot1, (slot) => hits.push(slot));
    expect(hits).toEqual([]);
  });

  it('turns guest debugging off when nothing is armed', () => {
    expect(arch.forVcpu().encode([undefined, undefined, undefined, undefined]).control).toBe(0);
  });

  it.each([
    ['unaligned', unaligned],
    ['oversized', oversized],
  ] as const)('refuses an %s watch with its own reason, in the check and before loading', (kind, w) => {
    expect(() => arch.checkWatch(w, 1)).toThrow(expect.objectContaining({ code: 'VMM_WATCHPOINT', message: refused[kind] }));
    expect(() => arch.forVcpu().encode([undefined, w])).toThrow(refused[kind]);
  });
});

import { describe, expect, it as itBase, it } from 'vitest';
import { debugRegistersWork } from '../../runner/watch-mechanism.ts';
import { buildGuestWithSymbols } from '../../fixtures/guests/build.ts';
import { Vm, type VmConfig, type WatchMechanism } from '../vm.ts';
import type { WatchpointSpec } from '../watchpoints.ts';
import { BARE_WATCH_BASE } from '../x86_64/layout.ts';

const W = BigInt(BARE_WATCH_BASE);
// Both mechanisms where the host supports them; the debug registers only where KVM reports hits.
const drWork = await debugRegistersWork();
if (!drWork) console.warn("this host's KVM reports no debug-register hits: only the writetrap mechanism is tested here");
const watch = (name: string, offset: number, len: 1 | 2 | 4 | 8, extra: Partial<WatchpointSpec> = {}): WatchpointSpec => ({
  name,
  address: W + BigInt(offset),
  len,
  on: 'write',
  kind: 'user',
  freeze: false,
  ...extra,
});

async function vmFor(guest: string, cfg: Partial<VmConfig> & { mechanism?: WatchMechanism } = {}) {
  const { mechanism = 'writetrap', ...rest } = cfg;
  const { image, symbols } = await buildGuestWithSymbols(guest);
  const vm = await Vm.create({
    vcpus: 1,
    memoryMb: 64,
    guest: { kind: 'bare', image },
    timeoutMs: 30_000,
    watchMechanism: mechanism,
    ...rest,
  });
  return { vm, symbols };
}
const ip = (s: { instruction_pointer: string }) => Number(BigInt(s.instruction_pointer));

describe.each([
  { mechanism: 'writetrap' as const, works: true },
  { mechanism: 'debugregs' as const, works: drWork },
])('watchpoints ($mechanism)', ({ mechanism, works }) => {
  const it = works ? itBase : itBase.skip;
  it('latches each of three user watchpoints once, one eventfd edge per slot', async () => {
    const { vm } = await vmFor('watch-user', { mechanism, watchpoints: [watch('a', 8, 4), watch('b', 16, 4), watch('c', 24, 8)] });
    const r = await vm.run();
    expect(r.exitAction).toBe('Shutdown');
    expect(r.console.com1).toBe('user stores done\n');
    expect(r.watchpoints).toEqual({
      a: { slot: 1, hit: true, vcpu: 0, value: 0x11n },
      b: { slot: 2, hit: true, vcpu: 0, value: 0x22n },
      c: { slot: 3, hit: true, vcpu: 0, value: 0x33n },
    });
    expect(vm.latchEdges()).toBe(3);
    expect(r.snapshots).toEqual([]); // no freeze asked for
  });

  it('does not latch a watchpoint nobody writes', async () => {
    const { vm } = await vmFor('hello', { mechanism, watchpoints: [watch('quiet', 8, 4)] });
    const r = await vm.run();
    expect(r.watchpoints.quiet).toEqual({ slot: 1, hit: false });
    expect(vm.latchEdges()).toBe(0);
  });

  it('exit_kind: a clean kind (1) does not latch, the error kind (1024) does, and freezes with the ip just past the store', async () => {
    const { vm, symbols } = await vmFor('exit-kind', { mechanism, watchpoints: [{ name: 'scx_exit', address: W, len: 4, on: 'write', kind: 'exit_kind', freeze: true, latchFrom: 1024n }] });
    const r = await vm.run();
    expect(r.exitAction).toBe('Shutdown'); // thawed after the snapshot: the guest ran on
    expect(r.console.com1).toBe('exit kinds stored\n');
    expect(r.watchpoints.scx_exit).toEqual({ slot: 0, hit: true, vcpu: 0, value: 1024n });
    expect(vm.latchEdges()).toBe(1);
    const frozen = r.snapshots.filter((s) => s.trigger === 'watchpoint:scx_exit');
    expect(frozen).toHaveLength(1);
    expect(ip(frozen[0]!)).toBe(symbols.after_error_store);
    expect(frozen[0]!.text).toMatch(/^ip=0x0000000000[0-9a-f]{6} sp=0x[0-9a-f]{16} ptroot=0x0000000000009000$/);
  });

  it('rejects two exit_kind watchpoints and more than three user ones', async () => {
    const ek = (name: string): WatchpointSpec => ({ name, address: W, len: 4, on: 'write', kind: 'exit_kind', freeze: false });
    await expect(vmFor('hello', { watchpoints: [ek('x'), ek('y')] })).rejects.toMatchObject({ code: 'VMM_WATCHPOINT', message: expect.stringContaining('exit_kind') });
    await expect(vmFor('hello', { watchpoints: [watch('a', 8, 4), watch('b', 16, 4), watch('c', 24, 8), watch('d', 32, 4)] })).rejects.toMatchObject({
      code: 'VMM_WATCHPOINT',
      message: expect.stringContaining('at most 3'),
    });
    await expect(vmFor('hello', { watchpoints: [watch('odd', 9, 4)] })).rejects.toMatchObject({ code: 'VMM_WATCHPOINT', message: expect.stringContaining('aligned') });
  });
});

describe('freeze, thaw, kill', () => {
  it('parks vCPUs spinning with interrupts off, snapshots them inside the loop, thaws, and kills', async () => {
    const { vm, symbols } = await vmFor('spin', { vcpus: 2, timeoutMs: 60_000 });
    const running = vm.run();
    await new Promise((r) => setTimeout(r, 300));
    const inLoop = (s: { instruction_pointer: string }) => ip(s) >= symbols.spin_loop! && ip(s) < symbols.spin_loop_end!;

    const first = await vm.freeze();
    expect(first.map((s) => s.vcpu).sort()).toEqual([0, 1]);
    expect(first.every(inLoop)).toBe(true);
    expect(first.every((s) => s.trigger === 'api')).toBe(true);

    vm.thaw();
    await new Promise((r) => setTimeout(r, 200));
    const second = await vm.freeze('again');
    expect(second).toHaveLength(2); // it resumed and could be parked again
    expect(second.every(inLoop)).toBe(true);

    vm.stop(); // kill while frozen
    const r = await running;
    expect(r.exitAction).toBe('Timeout');
    expect(r.snapshots.map((s) => s.trigger)).toEqual(['api', 'api', 'again', 'again']);
  });

  it('a timeout snapshots every vCPU before killing it', async () => {
    const { vm, symbols } = await vmFor('halt-forever', { vcpus: 3, timeoutMs: 500 });
    const r = await vm.run();
    expect(r.exitAction).toBe('Timeout');
    const snaps = r.snapshots.filter((s) => s.trigger === 'timeout');
    expect(snaps.map((s) => s.vcpu).sort()).toEqual([0, 1, 2]);
    for (const s of snaps) expect(ip(s)).toBeGreaterThanOrEqual(symbols._start!);
  });
});

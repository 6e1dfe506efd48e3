import { afterEach, describe, expect, it, vi } from 'vitest';
import { INIT_START_MARKER } from '../fixtures/linux/init-script.ts';
import type { Vm } from '../vmm/vm.ts';
import { BootClock, kernelPanic } from './prepare.ts';

describe('kernelPanic', () => {
  it('finds the panic line in a console', () => {
    const console = '[ 2.4] RIP: 0010:fpstate_reset+0x1a/0x90\r\n[ 2.4] Kernel panic - not syncing: Attempted to kill the idle task!\r\n[ 2.5] reboot';
    expect(kernelPanic(console)).toBe('Kernel panic - not syncing: Attempted to kill the idle task!');
  });
  it('is undefined for a clean boot', () => {
    expect(kernelPanic('schedvm-init: poweroff\nreboot: Restarting system\n')).toBeUndefined();
  });
});

describe('BootClock', () => {
  /** What BootClock uses of a Vm: its end, freeze (snapshots first, as a timeout does) and stop. */
  const fakeVm = () => {
    const calls: string[] = [];
    const vm = {
      ended: false,
      freeze: async (t: string) => {
        calls.push(`freeze ${t}`);
        return [];
      },
      stop: () => calls.push('stop'),
    };
    return { vm: vm as unknown as Vm, calls };
  };
  afterEach(() => {
    vi.useRealTimers();
  });

  it('stops a guest whose /init has not started within the boot timeout, and says where its console stopped', async () => {
    vi.useFakeTimers();
    const { vm, calls } = fakeVm();
    const clock = new BootClock({ bootTimeoutMs: 5000 }, 'topo-1');
    clock.start(vm);
    clock.watch('com1', '[    4.01] evm: security.SMACK64EXEC (disabled)\r\n');
    await vi.advanceTimersByTimeAsync(4999);
    expect(calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toEqual(['freeze boot-timeout', 'stop']);
    expect(clock.bootStalled).toBe('/init had not started after boot_timeout_s (5 s); the console\'s last line: "[    4.01] evm: security.SMACK64EXEC (disabled)"');
    expect(clock.bootMs).toBeUndefined();
  });

  it('leaves a guest alone once /init started (on COM1 or hvc0, not COM2), or once the VM ended', async () => {
    vi.useFakeTimers();
    const booted = fakeVm();
    const clock = new BootClock({ bootTimeoutMs: 5000 }, 'topo-1');
    clock.start(booted.vm);
    clock.watch('com2', `${INIT_START_MARKER}\n`);
    expect(clock.bootMs).toBeUndefined();
    clock.watch('hvc0', `${INIT_START_MARKER}\n`);
    expect(clock.bootMs).toBeGreaterThanOrEqual(0);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(booted.calls).toEqual([]);

    const ended = fakeVm();
    const other = new BootClock({ bootTimeoutMs: 5000 });
    other.start(ended.vm);
    other.end();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(ended.calls).toEqual([]);
    expect(other.bootStalled).toBeUndefined();
  });

  it('has no boot timeout for a bare guest', async () => {
    vi.useFakeTimers();
    const { vm, calls } = fakeVm();
    new BootClock({}).start(vm);
    await vi.advanceTimersByTimeAsync(1_000_000);
    expect(calls).toEqual([]);
  });
});

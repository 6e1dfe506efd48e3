// The environment's teardown frees everything a test file's VMs held: threads (the vCPU pool
// included), fds and guest RAM, whatever state each VM was in.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { vcpuPoolThreads } from '../vmm/vcpu/pool.ts';
import { TestFileVms } from './test-file-vms.ts';
import type { SchedVm } from './types.ts';

const fds = () => readdirSync('/proc/self/fd').length;
const threads = () => readdirSync('/proc/self/task').length;
const options = (scenario?: string) => ({ artifacts: '.schedvm-artifacts', console: false, ...(scenario ? { scenario } : {}) });

describe('TestFileVms teardown', () => {
  it('frees threads, fds and RAM of an ended VM, a running one and one never started', async () => {
    const cycle = async () => {
      const host = new TestFileVms(options('examples/bare/hello.yaml'));
      const ended = await host.vm();
      await ended.run();
      const { scenario, file } = host.load('src/runner/testdata/plugin/spin-forever.yaml');
      const running = (await host.boot(scenario, file)).start();
      const idle = await host.boot(host.load('examples/bare/hello.yaml').scenario, 'examples/bare/hello.yaml');
      await host.close();
      return [ended, running, idle] as SchedVm[];
    };
    await cycle(); // first use: libuv's and tsx's threads stay for the process, as they would anyway
    const before = { fds: fds(), threads: threads() };
    const t0 = performance.now();
    const vms = await cycle();
    expect(performance.now() - t0).toBeLessThan(300_000); // the hour-long spinner was stopped, not waited for
    expect(vcpuPoolThreads()).toBe(0);
    expect(fds()).toBe(before.fds);
    for (let i = 0; i < 50 && threads() > before.threads; i++) await new Promise((r) => setTimeout(r, 100));
    expect(threads()).toBe(before.threads);
    expect(vms.map((vm) => vm.state)).toEqual(['ended', 'ended', 'created']);
    expect(vms[1]!.result?.exitAction).toBe('Timeout');
    for (const vm of vms) expect(() => vm.readU32(0x100000)).toThrow(/released/);
  });

  it('keeps guest RAM readable after the run until teardown, and serves one run to every caller', async () => {
    const host = new TestFileVms(options('examples/sched/exit-kind.yaml'));
    try {
      const vm = await host.vm();
      const [a, b] = await Promise.all([vm.run(), vm.run()]);
      expect(a).toBe(b);
      expect(vm.readU32(0x200000)).toBe(1024);
      expect(await host.vm()).toBe(vm);
    } finally {
      await host.close();
    }
  });

  it('freezes, snapshots and thaws a live VM, and waits for console text', async () => {
    const host = new TestFileVms(options('src/runner/testdata/plugin/spin-forever.yaml'));
    try {
      const vm = await host.vm();
      await expect(vm.freeze()).rejects.toThrow(/needs a running VM \(it is created\)/);
      vm.start();
      const snaps = await vm.snapshot('look');
      expect(snaps.map((s) => s.vcpu).sort()).toEqual([0, 1]);
      expect(vm.snapshots.map((s) => s.trigger)).toEqual(['look', 'look']);
      await expect(vm.waitForConsole('never printed', { timeoutMs: 200 })).rejects.toThrow(/did not appear on com1 within 200 ms/);
      vm.stop();
      expect((await vm.run()).exitAction).toBe('Timeout');
      await expect(vm.waitForConsole('x')).rejects.toThrow(/the VM ended \(Timeout\)/);
    } finally {
      await host.close();
    }
  });
});

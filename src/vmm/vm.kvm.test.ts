import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildGuest } from '../fixtures/guests/build.ts';
import { Kvm } from './kvm.ts';
import { KVM_CAP_COALESCED_PIO } from './sys/kvm-abi.ts';
import { shutdownVcpuPool, vcpuPoolThreads } from './vcpu/pool.ts';
import { allPlacements, type Topology } from './topology.ts';
import { Vm, type VmConfig, type VmResult } from './vm.ts';

async function boot(guest: string, opts: Partial<VmConfig> & { arg?: number } = {}): Promise<VmResult> {
  const image = await buildGuest(guest);
  const vm = await Vm.create({
    ...(opts.topology ? { topology: opts.topology } : { vcpus: opts.vcpus ?? 1 }),
    memoryMb: opts.memoryMb ?? 64,
    guest: { kind: 'bare', image, ...(opts.arg !== undefined ? { arg: opts.arg } : {}) },
    timeoutMs: opts.timeoutMs ?? 30_000,
    ...(opts.onConsole ? { onConsole: opts.onConsole } : {}),
  });
  return vm.run();
}

const openFds = () => readdirSync('/proc/self/fd').length;

/** Whether this KVM queues port writes (KVM_CAP_COALESCED_PIO); without it every THR write exits. */
function kvmCoalescesPio(): boolean {
  const kvm = Kvm.open();
  try {
    return kvm.checkExtension(KVM_CAP_COALESCED_PIO) > 0;
  } finally {
    kvm.close();
  }
}

describe('bare-metal guests on KVM', () => {
  it('hello greets on COM1 and shuts down through the i8042 reset', async () => {
    const r = await boot('hello');
    expect(r.exitAction).toBe('Shutdown');
    expect(r.console.com1).toBe('Hello from schedvm!\n');
    expect(r.console.com2).toBe('');
  });

  it.skipIf(!kvmCoalescesPio())("hello's bytes reach COM1 through the coalesced ring: no exit of their own", async () => {
    const r = await boot('hello');
    const greeting = 'Hello from schedvm!\n';
    expect(r.console.com1).toBe(greeting);
    // One LSR poll (IoIn) per byte exits; the THR writes queue in KVM (one exit each without).
    const { IoIn = 0, IoOut = 0 } = r.vcpus[0]!.exitsByReason;
    expect(IoIn).toBeGreaterThanOrEqual(greeting.length);
    expect(IoOut).toBeLessThan(greeting.length / 2);
  });

  it('com2 greets on COM2 only', async () => {
    const r = await boot('com2');
    expect(r.exitAction).toBe('Shutdown');
    expect(r.console).toEqual({ com1: '', com2: 'Hello from COM2!\n', hvc0: '' });
  });

  it('a triple fault is a Shutdown', async () => {
    const r = await boot('triple-fault');
    expect(r.exitAction).toBe('Shutdown');
    expect(r.vcpus[0]!.exits).toBeGreaterThanOrEqual(1);
  });

  it('an unmapped MMIO read returns all ones', async () => {
    const r = await boot('mmio-unmapped');
    expect(r.exitAction).toBe('Shutdown');
    expect(r.console.com1).toBe('ffffffff\n');
  });

  it('smp: every vCPU runs on its own thread with its own index and APIC id', async () => {
    const r = await boot('smp', { vcpus: 4 });
    expect(r.exitAction).toBe('Shutdown');
    const lines = r.console.com1.trim().split('\n').sort();
    expect(lines).toEqual(['vcpu 0 apic 0', 'vcpu 1 apic 1', 'vcpu 2 apic 2', 'vcpu 3 apic 3']);
    expect(r.vcpus.map((v) => v.index)).toEqual([0, 1, 2, 3]);
    // vCPUs 1-3 are native threads served by one exit thread: each exit was counted, and their
    // threads' CPU time (with a share of the exit thread's) reported.
    for (const v of r.vcpus) {
      expect(v.exits).toBeGreaterThan(0);
      expect(v.cpuMs).toBeDefined();
    }
  });

  // APIC ids past 255 with the fewest vCPUs that reach them (153: 9 nodes of 17 cores, 5 core
  // bits, so node 8 starts at id 256): KVM gets vCPU ids above 255, the guest reads them from
  // CPUID 0xB. The 252-vCPU guest is a benchmark case (`largest-guest`, bench/cases/memory.ts).
  it('smp: a guest whose APIC ids pass 255 sees every vCPU with its id', { timeout: 900_000 }, async () => {
    const topology: Topology = { numa_nodes: 9, llcs: 9, cores_per_llc: 17, threads_per_core: 1 };
    const r = await boot('smp', { topology, timeoutMs: 600_000 });
    expect(r.exitAction).toBe('Shutdown');
    const seen = r.console.com1.trim().split('\n');
    expect(seen).toEqual(allPlacements(topology).map((p) => `vcpu ${p.vcpu} apic ${p.apicId}`));
    expect(seen.at(-1)).toBe('vcpu 152 apic 272');
  });

  it('port-flood makes one exit per port write', async () => {
    const r = await boot('port-flood', { arg: 5000 });
    expect(r.exitAction).toBe('Shutdown');
    expect(r.console.com1).toBe('flood done 5000\n');
    expect(r.vcpus[0]!.exits).toBeGreaterThanOrEqual(5000);
  });

  it.each(['spin', 'halt-forever'])('%s is stopped at its timeout, every vCPU kicked out', async (guest) => {
    const t0 = performance.now();
    // Three: vCPU 0 on its own thread, vCPUs 1 and 2 native (a lone vCPU 1 would have its own too).
    const r = await boot(guest, { vcpus: 3, timeoutMs: 1000 });
    expect(r.exitAction).toBe('Timeout');
    expect(r.wallMs).toBeGreaterThanOrEqual(1000);
    // A functional bound, not a speed target: a vCPU that cannot be kicked would hang here.
    expect(performance.now() - t0).toBeLessThan(30_000);
  });

  it('streams console output while the guest runs', async () => {
    const chunks: Record<string, string> = { com1: '', com2: '' };
    const r = await boot('hello', { onConsole: (port, text) => (chunks[port] += text) });
    expect(chunks).toEqual({ com1: 'Hello from schedvm!\n', com2: '' });
    expect(r.console.com1).toBe('Hello from schedvm!\n');
  });

  it('leaks no fds across many VMs', async () => {
    await boot('hello', { vcpus: 2 }); // the pool's threads (and their fds) stay for the next VMs
    const before = openFds();
    for (let i = 0; i < 5; i++) await boot('hello', { vcpus: 2 });
    await boot('spin', { timeoutMs: 200 });
    expect(openFds()).toBe(before);
  });

  it('reuses pooled vCPU threads across VMs, and can shut the pool down', async () => {
    await boot('smp', { vcpus: 3 });
    const threads = vcpuPoolThreads();
    expect(threads).toBeGreaterThanOrEqual(2); // vCPU 0's, and the exit thread of the other two
    for (let i = 0; i < 3; i++) expect((await boot('smp', { vcpus: 3 })).exitAction).toBe('Shutdown');
    expect(vcpuPoolThreads()).toBe(threads);
    await shutdownVcpuPool();
    expect(vcpuPoolThreads()).toBe(0);
    expect((await boot('hello')).console.com1).toBe('Hello from schedvm!\n'); // a new pool
  });

  it('keepMemory leaves guest RAM readable after the run, until dispose()', async () => {
    const vm = await Vm.create({ vcpus: 1, memoryMb: 64, guest: { kind: 'bare', image: await buildGuest('hello') }, keepMemory: true });
    await vm.run();
    expect(vm.memory.readU32(0x100000)).not.toBe(0); // the guest image is still there
    await vm.dispose();
    expect(() => vm.memory.readU32(0x100000)).toThrow(expect.objectContaining({ code: 'VMM_STATE' }));
  });

  it('rejects a bad configuration with a typed error naming the field', async () => {
    const image = await buildGuest('hello');
    await expect(Vm.create({ vcpus: 0, memoryMb: 64, guest: { kind: 'bare', image } })).rejects.toMatchObject({ code: 'VMM_CONFIG', message: expect.stringContaining('vcpus') });
    await expect(Vm.create({ vcpus: 1, memoryMb: 1, guest: { kind: 'bare', image } })).rejects.toMatchObject({ code: 'VMM_CONFIG', message: expect.stringContaining('memory_mb') });
    await expect(
      Vm.create({ vcpus: 1, memoryMb: 64, guest: { kind: 'bare', image }, watchpoints: [{ name: 'w', address: 0x200001n, len: 4, on: 'write', kind: 'user', freeze: false }] }),
    ).rejects.toMatchObject({ code: 'VMM_WATCHPOINT' });
  });
});

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { GuestReport } from '../fixtures/linux/report.ts';
import { allPlacements, numaDistances, type Topology } from '../vmm/topology.ts';
import { parseTopologyShorthand } from './scenario/topology-shorthand.ts';
import { runScenario } from './run-scenario.ts';
import { bootStalls } from './progress.ts';
import { parseScenario } from './scenario/load.ts';
import './matchers.ts';

const boot = (yaml: string) => runScenario(parseScenario(yaml, 'inline.yaml'));

/** What Linux must report for topology `t`, derived from the same placement the VMM uses. */
function expectedReport(t: Topology): Omit<GuestReport, 'schedExtState' | 'release'> {
  const cpus = allPlacements(t);
  const list = (pred: (p: (typeof cpus)[number]) => boolean) => cpus.filter(pred).map((p) => p.vcpu);
  const distances = numaDistances(t);
  return {
    online: cpus.map((p) => p.vcpu),
    cpus: cpus.map((p) => ({
      cpu: p.vcpu,
      coreId: p.coreId,
      package: p.node,
      siblings: list((q) => q.llc === p.llc && q.core === p.core),
      llc: list((q) => q.llc === p.llc),
    })),
    nodes: Array.from({ length: t.numa_nodes }, (_, node) => ({ node, cpus: list((q) => q.node === node), distance: distances[node]! })),
  };
}

/** The console from the first oops line on: what a panic's report needs. */
function oopsOf(console: string): string {
  const at = console.search(/^.*(Oops|BUG:|general protection|WARNING:|Call Trace)/m);
  return console.slice(at < 0 ? -4000 : at, (at < 0 ? console.length : at) + 8000);
}

// Emulated (the sandbox) a boot takes 10 s to a minute or two; the guest's own timeout is 300 s.
const BOOT_TEST_TIMEOUT_MS = 900_000;
// 2n4l2c2t is 16 vCPUs (llcs counts every LLC in the VM); 2n2l2c2t carries its own SLIT distances.
// examples/linux-topology.test.ts spells one shape out by hand, independent of allPlacements.
const SHAPES: Array<[string, number[][]?]> = [
  ['1n1l1c1t'],
  ['1n1l2c2t'],
  ['1n2l2c1t'],
  [
    '2n2l2c2t',
    [
      [10, 21],
      [21, 10],
    ],
  ],
  ['2n4l2c1t'],
  ['2n4l2c2t'],
];

function topologyYaml(shape: string, distances?: number[][]): string {
  if (!distances) return `topology: ${shape}\n`;
  const t = parseTopologyShorthand(shape);
  return `topology: { numa_nodes: ${t.numa_nodes}, llcs: ${t.llcs}, cores_per_llc: ${t.cores_per_llc}, threads_per_core: ${t.threads_per_core}, distances: ${JSON.stringify(distances)} }\n`;
}

describe('Linux sees the declared topology (Debian sched_ext kernel)', () => {
  it.each(SHAPES)(
    '%s',
    async (shape, distances) => {
      const t = { ...parseTopologyShorthand(shape), ...(distances ? { distances } : {}) };
      const r = await boot(`name: topo-${shape}\nkernel: debian-sched-ext\n${topologyYaml(shape, distances)}memory_mb: 1024\ntimeout_s: 300\n`);
      expect(r.exitAction, r.console.com1.slice(-3000)).toBe('Shutdown');
      expect(r.panic, oopsOf(r.console.com1)).toBeUndefined();
      // tsc=nowatchdog: no irq-off skew check (emulated, it timed out on every SMP boot).
      expect(r.console.com1).not.toMatch(/clocksource: Watchdog/);
      expect(r.guest, 'the guest printed no report').toBeDefined();
      const { schedExtState, release, ...seen } = r.guest!;
      expect(seen).toEqual(expectedReport(t));
      expect(release).toBe(r.kernel?.version); // uname -r: the kernel schedvm resolved
      expect(schedExtState).toBe('disabled'); // sched_ext is built in, no scheduler loaded
      expect(r.bootMs).toBeGreaterThan(0);
    },
    BOOT_TEST_TIMEOUT_MS,
  );
});

describe('the host kernel', () => {
  it(
    'boots to init and shuts down, its i8042 driver finding the controller the reset goes through',
    async () => {
      const r = await boot('name: host-kernel\nkernel: host\ntopology: 1n1l2c1t\nmemory_mb: 512\ntimeout_s: 300\n');
      expect(r.exitAction, r.console.com1.slice(-3000)).toBe('Shutdown');
      expect(r.guest?.online).toEqual([0, 1]);
      // Without CTR reads the probe polled 10000 status reads and failed: "Can't read CTR".
      expect(r.console.com1).toMatch(/serio: i8042 KBD port at 0x60,0x64 irq 1/);
      expect(r.console.com1).not.toContain('i8042: probe with driver i8042 failed');
      expect(r.bootMs).toBeGreaterThan(0);
    },
    BOOT_TEST_TIMEOUT_MS,
  );
});

describe('a watchpoint on a kernel symbol', () => {
  it(
    'latches when the kernel writes system_state on its way down, and freezes every vCPU',
    async () => {
      const r = await boot(
        'name: sym-watch\nkernel: debian-sched-ext\nvcpus: 2\nmemory_mb: 1024\ntimeout_s: 300\n' +
          'watchpoints:\n  - { name: state, symbol: system_state, len: 4, freeze: true }\n  - { name: tick, symbol: jiffies, len: 8 }\n',
      );
      expect(r.exitAction, r.console.com1.slice(-3000)).toBe('Shutdown');
      expect(r.kernelWatch?.[0], r.kernelWatch?.join('\n')).toMatch(/^watchpoint state: armed on system_state\+0x0 \(va 0xffffffff[0-9a-f]+, pa 0x[0-9a-f]+\)$/);
      // Booted from the ELF unpacked out of the bzImage, not through its decompressor (which
      // randomises where the kernel lands): the kernel sits at its link address, va = pa +
      // __START_KERNEL_map.
      expect(r.warnings.join('\n')).not.toMatch(/booting its bzImage/);
      const [, va, pa] = /va 0x([0-9a-f]+), pa 0x([0-9a-f]+)/.exec(r.kernelWatch![0]!)!;
      expect(BigInt(`0x${va}`) - BigInt(`0x${pa}`)).toBe(0xffffffff80000000n);
      // /init's `reboot -f` ends in kernel_restart_prepare(): system_state = SYSTEM_RESTART (6).
      expect(r.watchpoints.state).toMatchObject({ slot: 1, hit: true, value: 6n });
      // jiffies, 8 bytes, read at its width: it starts at 2^32 - 300 s of ticks (INITIAL_JIFFIES)
      // and is seconds past that here; its low 32 bits alone would read as a negative number.
      const tick = r.watchpoints.tick!;
      expect(tick.hit).toBe(true);
      expect(tick.value! > 2n ** 32n - 300n * 1000n && tick.value! < 2n ** 32n + 2n ** 24n, String(tick.value)).toBe(true);
      expect(
        r.snapshots
          .filter((x) => x.trigger === 'watchpoint:state')
          .map((x) => x.vcpu)
          .sort(),
      ).toEqual([0, 1]);
      // Symbolised from the guest's own kallsyms (read out of its memory through VMCOREINFO).
      expect(r.kernelSymbols, r.kernelSymbols).toMatch(/^\d{5,} symbols in \d+ ms$/);
      const hit = r.snapshots.find((x) => x.trigger === 'watchpoint:state' && x.vcpu === r.watchpoints.state!.vcpu)!;
      process.stderr.write(`system_state latch: ${hit.text}; kernel symbols: ${r.kernelSymbols}\n`);
      // The store is in kernel_restart_prepare(), which the compiler may inline into kernel_restart().
      expect(hit.symbol, hit.text).toMatch(/^kernel_restart(_prepare)?\+0x[0-9a-f]+$/);
      expect(hit.text).toMatch(/^ip=0x[0-9a-f]{16} \(kernel_restart(_prepare)?\+0x[0-9a-f]+\) sp=/);
      expect(r).toHaveSnapshotAt(hit.symbol!.split('+')[0]!, { trigger: 'watchpoint:state', vcpu: hit.vcpu });
    },
    BOOT_TEST_TIMEOUT_MS,
  );
});

describe('a boot that never reaches /init', () => {
  it(
    'is stopped at boot_timeout_s with its vCPUs snapshotted, and noted for schedvm test',
    async () => {
      // busybox's shell as init: the kernel boots, then waits at a prompt, never running /init.
      const progress = join(mkdtempSync(join(tmpdir(), 'schedvm-stall-')), 'progress');
      vi.stubEnv('SCHEDVM_PROGRESS_FILE', progress); // this test's own file: the run's reporter must not see it
      vi.stubEnv('SCHEDVM_IN_SANDBOX', '1');
      try {
        const r = await boot('name: stall\nkernel: debian-sched-ext\nvcpus: 1\nmemory_mb: 512\ncmdline: rdinit=/bin/sh\nboot_timeout_s: 60\ntimeout_s: 300\n');
        expect(r.exitAction, r.console.com1.slice(-3000)).toBe('Timeout');
        expect(r.console.com1).toContain('Run /bin/sh as init process');
        expect(r.bootMs).toBeUndefined();
        expect(r.bootStalled).toMatch(/^\/init had not started after boot_timeout_s \(60 s\); the console's last line: "/);
        expect(r.wallMs).toBeLessThan(120_000);
        const snap = r.snapshots.find((x) => x.trigger === 'boot-timeout');
        expect(snap, JSON.stringify(r.snapshots)).toBeDefined();
        expect(snap!.text).toMatch(/^ip=0xffffffff[0-9a-f]{8} /); // in the kernel, waiting (unsymbolised: /init reports the symbol table)
        // The note carries where the boot stood: the run ends before this test could report it.
        expect(bootStalls(readFileSync(progress, 'utf8'))).toEqual([{ scenario: 'stall', where: expect.stringMatching(/^last line ".*"; vCPU 0 ip=0xffffffff[0-9a-f]{8} /) }]);
      } finally {
        vi.unstubAllEnvs();
        rmSync(dirname(progress), { recursive: true, force: true });
      }
    },
    BOOT_TEST_TIMEOUT_MS,
  );
});

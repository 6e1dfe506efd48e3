// sched_ext schedulers in the Debian sched_ext kernel: the kernel's own scx_simple and
// scx_central stay healthy on several topologies. Every case is a real boot (20-60 s in the
// sandbox). Our scx_fault's cases are in scheduler-fault.kvm.test.ts: after a sandbox stall,
// npm test reruns the files that had not ended, so smaller files rerun less.
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveKernel } from '../fixtures/kernels/index.ts';
import { buildSchedulers } from '../fixtures/schedulers/index.ts';
import { runScenario } from './run-scenario.ts';
import { parseScenario } from './scenario/load.ts';

const TEST_TIMEOUT_MS = 900_000;
const tail = (text: string) => text.slice(-4000);

describe('upstream schedulers run healthy', () => {
  // scx_central on two vCPUs (1n1l2c1t) froze the one-vCPU sandbox VM in 3 of 4 runs (QEMU
  // TCG's nested SVM; its heartbeat watchdog caught each): it runs on 4- and 8-vCPU shapes.
  const shapes = { scx_simple: ['1n1l2c1t', '1n2l2c1t', '2n2l1c2t'], scx_central: ['1n1l2c2t', '1n2l2c1t', '2n2l1c2t'] };
  const cases = Object.entries(shapes).flatMap(([name, list]) => list.map((shape) => [name, shape] as const));
  it.each(cases)(
    '%s on %s',
    async (name, shape) => {
      const s = parseScenario(
        `name: ${name}-${shape}\nkernel: debian-sched-ext\ntopology: ${shape}\nmemory_mb: 1024\ntimeout_s: 300\n` + `scheduler: { name: ${name} }\nworkload: { duration_s: 3 }\n`,
        `${name}-${shape}.yaml`,
      );
      const r = await runScenario(s);
      expect(r.exitAction, tail(r.console.com1)).toBe('Shutdown');
      expect(r.scheduler, tail(r.console.com1)).toMatchObject({ name, state: 'enabled', exitKind: 'unreg', watchpointLatched: false });
      // Armed, or a note saying why not (the fault cases below require it armed).
      expect(r.scheduler!.exitKindWatch).toMatch(/^exit-kind watch: /);
      expect(r.scheduler!.watchpointLatched).toBe(false);
      // Every workload thread (one per vCPU) made progress under the scheduler.
      expect(r.scheduler!.progress, tail(r.console.com1)).toHaveLength(s.vcpus);
      for (const rounds of r.scheduler!.progress!) expect(rounds).toBeGreaterThan(0);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('a scheduler binary of your own', () => {
  // scx_simple's loader under another name, in a folder of its own: nothing about it is known
  // to schedvm but what the scenario says (binary relative to the scenario file, ops).
  it(
    'is packed with its shared libraries, enabled, and stopped cleanly',
    async () => {
      const built = await buildSchedulers(await resolveKernel('debian-sched-ext'), ['scx_simple']);
      const dir = mkdtempSync(join(tmpdir(), 'schedvm-own-sched-'));
      try {
        copyFileSync(built.binaries.scx_simple!, join(dir, 'my_sched'));
        chmodSync(join(dir, 'my_sched'), 0o755);
        const s = parseScenario(
          'name: own-scheduler\nkernel: debian-sched-ext\ntopology: 1n1l2c1t\nmemory_mb: 1024\ntimeout_s: 300\n' + 'scheduler: { binary: ./my_sched, ops: simple }\nworkload: { duration_s: 3 }\n',
          join(dir, 'own.yaml'),
        );
        const r = await runScenario(s);
        expect(r.exitAction, tail(r.console.com1)).toBe('Shutdown');
        expect(r.scheduler, tail(r.console.com1)).toMatchObject({ name: 'my_sched', state: 'enabled', exitKind: 'unreg', watchpointLatched: false });
        for (const rounds of r.scheduler!.progress!) expect(rounds).toBeGreaterThan(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    TEST_TIMEOUT_MS,
  );
});

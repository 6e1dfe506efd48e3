// kernel: { build: <dir> }: a kernel build tree boots, and its vmlinux's BTF places the
// exit-kind watch and the monitor. The tree is assembled from the Debian kernel
// (build-tree.testing.ts); the scheduler is the one scx_simple.yaml runs, as built for that
// kernel (the host prepares that scenario, which this file names, before the sandbox starts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { debianBuildTree } from '../fixtures/kernels/build-tree.testing.ts';
import { resolveKernel } from '../fixtures/kernels/resolve.ts';
import { buildSchedulers } from '../fixtures/schedulers/build.ts';
import { scenarioGate } from './gates.ts';
import { runScenario } from './run-scenario.ts';
import { loadScenario } from './scenario/load.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('a build tree boots with its scheduler enabled, the exit-kind watch armed and the monitor sampling', { timeout: 900_000 }, async () => {
  const tree = await debianBuildTree();
  dirs.push(tree);
  const base = loadScenario('scenarios/sched/scx_simple.yaml');
  const name = base.scheduler!.name!;
  const built = await buildSchedulers(await resolveKernel(base.kernel!), [name]);
  const dir = mkdtempSync(join(tmpdir(), 'schedvm-tree-scenario-'));
  dirs.push(dir);
  const file = join(dir, 'tree.yaml');
  writeFileSync(
    file,
    `name: tree\nkernel: { build: ${tree} }\ntopology: 1n1l2c1t\nmemory_mb: 1024\ntimeout_s: 300\n` +
      `scheduler: { binary: ${built.binaries[name]}, ops: ${name.replace(/^scx_/, '')} }\nworkload: { duration_s: 3 }\nmonitor: {}\nexpect: { scheduler_exit: unreg }\n`,
  );
  const s = loadScenario(file);
  const r = await runScenario(s);
  const why = r.console.com1.slice(-4000);
  expect(r.kernel?.name, why).toBe(`build:${tree}`);
  expect(r.guest?.release, why).toBe(r.kernel?.version);
  expect(r.scheduler, why).toMatchObject({ state: 'enabled', exitKind: 'unreg' });
  expect(r.scheduler!.exitKindWatch, r.kernelWatch?.join('\n')).toMatch(/^exit-kind watch: armed/);
  expect(r.monitor?.samples, r.monitor?.note).toBeGreaterThan(0);
  expect(scenarioGate(file, s, r)).toBeUndefined();
});

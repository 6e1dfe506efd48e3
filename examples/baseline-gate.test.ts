// @vitest-environment schedvm
// @vitest-environment-options {"scenario": "examples/sched/baseline-gate.yaml"}
//
// Gating on a baseline: the scenario runs its workload under the kernel's default scheduler
// first, then under scx_simple, in the same VM. Its *_vs_baseline gates already fail this file
// when scx_simple falls behind; the result's `baseline` holds the first run and the ratios
// (scenario over baseline) for assertions of your own. toMatchBaseline goes further: it keeps
// this run's figures in __snapshots__/ beside this file and fails a later run that falls behind
// them (`npx vitest -u` accepts a new one).
import { expect, test } from 'schedvm';

test('scx_simple keeps up with the kernel default scheduler', async ({ vm }) => {
  const { baseline, workload } = await vm.run();
  expect(vm).toHaveSchedulerExit('unreg');
  expect(baseline?.workload.groups.map((g) => g.name)).toEqual(workload?.groups.map((g) => g.name));
  const ratios = baseline!.ratios!;
  expect(ratios.cpuBusy).toBeGreaterThan(0.8);
  for (const g of ratios.groups.filter((g) => g.name !== 'chat')) expect(g.rounds, g.name).toBeGreaterThan(0.5);
});

test('scx_simple holds its stored baseline', async ({ vm }) => {
  await vm.run();
  // Generous enough for emulation's noise (the sandbox), tight enough for a starving scheduler.
  // The pingpong pair's wake p99 against the default scheduler swings most: 3.7 when stored,
  // 60 on a loaded host (scx_simple lets a woken thread wait out a 20 ms slice; the default
  // scheduler preempts), so its bound is wide; the rounds bound is what catches starvation.
  expect(vm).toMatchBaseline({ rounds: 0.7, gap: 10, latency: 100, cpuBusy: 0.2 });
});

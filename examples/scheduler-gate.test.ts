// @vitest-environment schedvm
// @vitest-environment-options {"scenario": "examples/sched/scx_simple.yaml"}
//
// Gating CI on a sched_ext scheduler: the scenario's expect.scheduler_exit already fails this
// file if scx_simple exits with anything but `unreg` (a clean stop). The tests below say the
// same thing explicitly, and check that the workload made progress under the scheduler.
import { expect, test } from 'schedvm';

test('scx_simple loads, runs the workload and is stopped cleanly', async ({ vm }) => {
  const result = await vm.run();
  expect(result).toExitWith('Shutdown');
  expect(vm).toHaveSchedulerExit('unreg');
  expect(result.scheduler?.state).toBe('enabled');
});

test('every workload thread made progress while scx_simple scheduled it', async ({ vm, scenario }) => {
  const { scheduler } = await vm.run();
  expect(scheduler?.progress).toHaveLength(scenario.vcpus);
  for (const rounds of scheduler?.progress ?? []) expect(rounds).toBeGreaterThan(0);
});

// @vitest-environment schedvm
// @vitest-environment-options {"scenario": "examples/sched/behaviour-gate.yaml"}
//
// Gating CI on how a scheduler schedules: the scenario's expect.workload already fails this
// file if a gate breaks. The matchers below ask the same questions in code, with limits of
// their own; a failure prints the per-thread table (CPU ms, wait ms, longest gap, migrations).
import { expect, test } from 'schedvm';

test('no thread of scx_simple starves, and the spinning groups share fairly', async ({ vm }) => {
  const { workload } = await vm.run();
  expect(vm).toHaveSchedulerExit('unreg');
  expect(vm).toHaveNoStarvation({ maxGapMs: 3000, group: 'victim' });
  expect(vm).toBeFair({ spread: 1, group: 'others' });
  expect(workload?.groups.map((g) => g.name)).toEqual(['victim', 'others', 'chat', 'n0', 'n5']);
});

test('the pingpong pair wakes each other promptly', async ({ vm }) => {
  await vm.run();
  expect(vm).toHaveWakeLatency({ p99BelowUs: 1_000_000, group: 'chat' });
});

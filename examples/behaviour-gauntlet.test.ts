// @vitest-environment schedvm
// @vitest-environment-options {"scenario": "examples/sched/behaviour-gauntlet.yaml"}
//
// Behaviour gates on every topology: gauntlet() declares one test per topology (named by its
// shorthand), and each test fails on the scenario's expect.workload gates, naming the topology,
// the gate, the group and the measured value, after the assertions below.
import { expect, gauntlet } from 'schedvm';

gauntlet(async ({ vm, scenario, topology }) => {
  const { workload, guest } = await vm.run();
  expect(vm).toHaveSchedulerExit('unreg');
  // The guest saw the declared shape, and the workload measured every one of its CPUs.
  expect(guest?.online.length, topology).toBe(scenario.vcpus);
  expect(guest?.nodes.length, topology).toBe(scenario.topology!.numa_nodes);
  expect(workload?.cpus.map((c) => c.cpu)).toEqual([...Array(scenario.vcpus).keys()]);
  expect(vm).toHaveNoStarvation({ maxGapMs: 3000, group: 'victim' });
});

// @vitest-environment schedvm
// @vitest-environment-options {"scenario": "examples/bare/smp-gauntlet.yaml"}
//
// A gauntlet: one test per topology in the scenario's `topologies`, named by its shorthand
// (1n1l2c2t, ...), each on a VM of its own.
import { expect, gauntlet } from 'schedvm';

gauntlet(async ({ vm, scenario }) => {
  const result = await vm.run();
  expect(result).toExitWith('Shutdown');
  // Every vCPU prints `vcpu <index> apic <APIC id>`: each index once, each APIC id distinct.
  const lines = result.console.com1
    .trim()
    .split('\n')
    .map((l) => /^vcpu (\d+) apic (\d+)$/.exec(l));
  expect(lines.every(Boolean), result.console.com1).toBe(true);
  expect(lines.map((m) => Number(m![1])).sort((a, b) => a - b)).toEqual([...Array(scenario.vcpus).keys()]);
  expect(new Set(lines.map((m) => m![2])).size).toBe(scenario.vcpus);
});

// @vitest-environment schedvm
// @vitest-environment-options {"scenario": "examples/sched/kernels-gauntlet.yaml"}
//
// A kernel matrix: gauntlet() declares one test per kernel and topology, named
// <kernel>/<topology>; each boots that kernel, runs the scheduler on it, and is gated by the
// scenario's expect (scheduler_exit: unreg) after the assertions below.
import { expect, gauntlet } from 'schedvm';

const releases = new Map<string, string>();

gauntlet(async ({ vm, scenario, kernel }) => {
  const result = await vm.run();
  expect(result).toExitWith('Shutdown');
  // The guest runs the kernel this entry names: its uname -r is the release schedvm resolved.
  expect(result.kernel?.name).toBe(kernel);
  expect(result.guest?.release).toBe(result.kernel?.version);
  expect(result.guest?.online.length).toBe(scenario.vcpus);
  expect(vm).toHaveSchedulerExit('unreg');
  // Both topologies of one kernel boot the same release; the two kernels are different ones.
  releases.set(kernel!, releases.get(kernel!) ?? result.kernel!.version);
  expect(result.kernel?.version).toBe(releases.get(kernel!));
  expect(new Set(releases.values()).size).toBe(releases.size);
});

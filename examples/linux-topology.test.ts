// @vitest-environment schedvm
// @vitest-environment-options {"scenario": "examples/linux/topology.yaml"}
//
// Does Linux see the topology the scenario declares? One boot for the whole file: every test
// awaits the same run and reads the report the guest printed (result.guest).
import { expect, test } from 'schedvm';

test('boots to /init and powers off', async ({ vm }) => {
  const result = await vm.run();
  expect(result).toExitWith('Shutdown');
  expect(result.bootMs).toBeGreaterThan(0);
});

test('two NUMA nodes with the declared distances', async ({ vm }) => {
  const { guest } = await vm.run();
  expect(guest?.online).toEqual([0, 1, 2, 3]);
  expect(guest?.nodes).toEqual([
    { node: 0, cpus: [0, 1], distance: [10, 20] },
    { node: 1, cpus: [2, 3], distance: [20, 10] },
  ]);
});

test('SMT siblings share a core, each node its own LLC', async ({ vm }) => {
  const { guest } = await vm.run();
  expect(guest?.cpus.map((c) => ({ cpu: c.cpu, package: c.package, siblings: c.siblings, llc: c.llc }))).toEqual([
    { cpu: 0, package: 0, siblings: [0, 1], llc: [0, 1] },
    { cpu: 1, package: 0, siblings: [0, 1], llc: [0, 1] },
    { cpu: 2, package: 1, siblings: [2, 3], llc: [2, 3] },
    { cpu: 3, package: 1, siblings: [2, 3], llc: [2, 3] },
  ]);
});

test('kernel memory by symbol: /init rebooted, so system_state is SYSTEM_RESTART (6)', async ({ vm }) => {
  await vm.run();
  expect(vm.readU32('system_state')).toBe(6);
});

test('sched_ext is built in, with no scheduler loaded yet', async ({ vm }) => {
  const { guest } = await vm.run();
  expect(guest?.schedExtState).toBe('disabled');
});

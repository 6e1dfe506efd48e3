// @vitest-environment schedvm
// @vitest-environment-options {"scenario": "examples/bare/hello.yaml"}
//
// Bare-metal smoke test: how three tiny guests end. The file's own VM (the `vm` fixture) is
// the scenario above; `boot` starts other scenarios for one test each.
import { expect, test } from 'schedvm';

test('hello greets on COM1 and shuts down', async ({ vm }) => {
  const result = await vm.run();
  expect(result).toExitWith('Shutdown');
  expect(result.console.com1).toBe('Hello from schedvm!\n');
  // Guest RAM by symbol: the string hello.S printed, at its label.
  expect(new TextDecoder().decode(vm.read('msg', 19))).toBe('Hello from schedvm!');
});

test('spin never exits: stopped at its timeout, each vCPU caught inside its loop', async ({ boot }) => {
  const vm = await boot('examples/bare/spin.yaml');
  await vm.run();
  expect(vm).toExitWith('Timeout');
  for (const vcpu of [0, 1]) expect(vm).toHaveSnapshotAt('spin_loop', { trigger: 'timeout', vcpu });
});

test('a triple fault is a Shutdown, not a Fatal', async ({ boot }) => {
  const vm = await boot('examples/bare/triple-fault.yaml');
  expect(await vm.run()).toExitWith('Shutdown');
  expect(vm.console.com1).toBe('');
});

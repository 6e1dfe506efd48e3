// @vitest-environment schedvm
// @vitest-environment-options {"scenario": "examples/bare/hello.yaml", "artifacts": ".schedvm-artifacts/plugin-fixture"}
import { expect, test } from 'schedvm';

test('expects the wrong exit action', async ({ vm }) => {
  expect(await vm.run()).toExitWith('Timeout');
});

test('expects a snapshot at a symbol where none is', async ({ boot }) => {
  const vm = await boot('examples/bare/spin.yaml');
  await vm.run();
  expect(vm).toHaveSnapshotAt('_start', { trigger: 'api' });
});

test('passes', async ({ vm }) => {
  expect(await vm.run()).toExitWith('Shutdown');
});

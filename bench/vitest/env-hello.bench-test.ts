// @vitest-environment schedvm
// @vitest-environment-options {"scenario": "bench/scenarios/hello.yaml"}
import { expect, test } from 'schedvm';

test('hello through the schedvm environment', async ({ vm }) => {
  expect(await vm.run()).toExitWith('Shutdown');
});

// @vitest-environment schedvm
// @vitest-environment-options {"scenario": "src/runner/scenario/testdata/broken/vcpus-zero.yaml"}
import { expect, test } from 'schedvm';

test('never runs: the scenario is broken', async ({ vm }) => {
  expect(vm).toBeDefined();
});

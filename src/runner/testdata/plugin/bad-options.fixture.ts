// @vitest-environment schedvm
// @vitest-environment-options {"scenarios": "examples/bare/hello.yaml"}
import { expect, test } from 'schedvm';

test('never runs: the options have a typo', () => {
  expect(1).toBe(1);
});

// @vitest-environment schedvm
import { expect, gauntlet } from 'schedvm';

gauntlet('src/runner/scenario/testdata/broken/topologies-twice.yaml', ({ vm }) => {
  expect(vm).toBeDefined();
});

// @vitest-environment schedvm
// @vitest-environment-options {"scenario": "examples/bare/hello.yaml"}
// Run with SCHEDVM_SANDBOX=force: as on a host without a usable /dev/kvm.
import { expect, test } from 'schedvm';

test('never boots', async ({ vm }) => {
  expect(await vm.run()).toExitWith('Shutdown');
});

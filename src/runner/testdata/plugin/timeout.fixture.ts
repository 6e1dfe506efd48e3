// @vitest-environment schedvm
// @vitest-environment-options {"scenario": "src/runner/testdata/plugin/spin-forever.yaml", "artifacts": ".schedvm-artifacts/plugin-fixture"}
import { writeFileSync } from 'node:fs';
import { test } from 'schedvm';

// Booting may take long (emulated): it gets its own hook, and the VM is running when the test starts.
test.beforeAll(async ({ vm }) => {
  vm.start();
  if (process.env.SCHEDVM_FIXTURE_MARK) writeFileSync(process.env.SCHEDVM_FIXTURE_MARK, 'running');
}, 300_000);

// The VM would spin for an hour: the test times out, and teardown must stop the VM.
test('times out while the VM spins', { timeout: 3_000 }, async ({ vm }) => {
  await vm.run();
});

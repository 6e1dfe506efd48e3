// @vitest-environment schedvm
// @vitest-environment-options {"scenario": "bench/scenarios/flood.yaml"}
import { expect, test } from 'schedvm';
test('flood', async ({ vm }) => expect(await vm.run()).toExitWith('Shutdown'));

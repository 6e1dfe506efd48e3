// `import { test, expect } from 'schedvm'`: vitest's API plus schedvm's fixtures, matchers and
// gauntlet, for test files running in the schedvm environment.
import { afterAll } from 'vitest';
import { gauntletDeclared } from './gauntlet.ts';
import { isGauntlet } from './scenario/gauntlet.ts';
import { hasScenarioGates, scenarioGate } from './gates.ts';
import { currentTestFile } from './types.ts';
// Registers schedvm's matchers (expect.extend) for every file that imports schedvm.
import './matchers.ts';

export { afterAll, afterEach, beforeAll, beforeEach, describe, expect, vi } from 'vitest';
export { test, test as it } from './vitest-fixtures.ts';
export { gauntlet, type GauntletContext, type GauntletFn } from './gauntlet.ts';
export type { AddressRange, SchedvmMatchers, SnapshotFilter } from './matchers.ts';
export { describeRun } from './gates.ts';
export type { BaselineTolerance } from './stored-baseline.ts';
export type { ExitActionName, Scenario, ScenarioResult, SchedVm, SchedvmOptions, SnapshotRecord, VmState } from './types.ts';

// A broken scenario (or bad environment options) is this file's failure: its located message,
// thrown while the file is collected, without a stack.
const setupError = currentTestFile()?.error;
if (setupError) throw setupError;

// The CI gate: a scenario's expect.scheduler_exit, workload, steps and monitor gates fail the file without a
// hand-written assertion (the VM is run here if no test ran it). gauntlet() gates each topology
// in its own test; a gauntlet scenario whose file never declares one would otherwise go ungated.
const gated = currentTestFile();
if (gated?.scenario && gated.scenarioFile && hasScenarioGates(gated.scenario)) {
  const { scenario, scenarioFile } = gated;
  afterAll(
    async () => {
      if (isGauntlet(scenario)) {
        if (!gauntletDeclared(scenarioFile))
          throw new Error(`the expect gates of ${scenarioFile}: a gauntlet (kernels or topologies) is gated in the tests of gauntlet(), and this file declares none`);
        return;
      }
      const failure = scenarioGate(scenarioFile, scenario, await (await gated.vm()).run());
      if (failure) throw new Error(failure);
    },
    (scenario.timeout_s + 120) * 1000,
  );
}

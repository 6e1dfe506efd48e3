// `import { test, expect } from 'schedvm'`: vitest's API plus schedvm's fixtures, matchers and
// gauntlet, for test files running in the schedvm environment.
import { afterAll } from 'vitest';
import { schedulerExitMismatch } from './matchers.ts';
import { currentHost } from './types.ts';

export { afterAll, afterEach, beforeAll, beforeEach, describe, expect, vi } from 'vitest';
export { test, test as it } from './fixtures.ts';
export { gauntlet, type GauntletContext, type GauntletFn } from './gauntlet.ts';
export { describeRun, type AddressRange, type SchedvmMatchers, type SnapshotFilter } from './matchers.ts';
export type { ExitActionName, Scenario, ScenarioResult, SchedVm, SchedvmOptions, SnapshotRecord, VmState } from './types.ts';

// A broken scenario (or bad environment options) is this file's failure: its located message,
// thrown while the file is collected, without a stack.
const setupError = currentHost()?.error;
if (setupError) throw setupError;

// The CI gate: a scenario's expect.scheduler_exit fails the file without a hand-written
// assertion (the VM is run here if no test ran it).
const gated = currentHost();
const gateKind = gated?.scenario && !gated.scenario.topologies ? gated.scenario.expect.scheduler_exit : undefined;
if (gated && gateKind !== undefined) {
  afterAll(async () => {
    const r = await (await gated.vm()).run();
    const mismatch = schedulerExitMismatch(r, gateKind);
    if (mismatch) throw new Error(`expect.scheduler_exit of ${gated.scenarioFile}: ${mismatch}`);
  }, (gated.scenario!.timeout_s + 120) * 1000);
}

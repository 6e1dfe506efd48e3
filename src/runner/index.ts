// `import { test, expect } from 'schedvm'`: vitest's API plus schedvm's fixtures, matchers and
// gauntlet, for test files running in the schedvm environment.
import './matchers.ts';
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

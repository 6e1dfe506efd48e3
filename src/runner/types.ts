// What the schedvm environment (which owns the VMs) and the test-side API (fixtures,
// matchers, gauntlet) share. vitest loads the environment and the test file through separate
// module graphs, so they meet only through a global holding these interfaces.
import type { ConsolePort, SnapshotRecord } from '../vmm/vm.ts';
import type { BareSymbols, GuestAddress } from './guest-address.ts';
import type { ScenarioResult } from './prepare.ts';
import type { GauntletEntry } from './scenario/gauntlet.ts';
import type { Scenario } from './scenario/schema.ts';

export type { ScenarioResult } from './prepare.ts';
export type { Scenario } from './scenario/schema.ts';
export type { ExitActionName, SnapshotRecord } from '../vmm/vm.ts';

/** Options of the schedvm environment (`@vitest-environment-options` or environmentOptions.schedvm). */
export interface SchedvmOptions {
  /** Scenario file, relative to the directory vitest runs in; booted once for the test file. */
  scenario?: string;
  /** Stream the guest's console to stderr as it runs (also: SCHEDVM_CONSOLE=1). */
  console?: boolean;
  /** Where failed tests leave their console and result (default `.schedvm-artifacts`). */
  artifacts?: string;
}

export type VmState = 'created' | 'running' | 'ended';

/**
 * One scenario's VM. It is created with its vCPUs parked; the first run() (or start()) starts
 * it, and every later run() resolves with the same result. Guest RAM stays readable after
 * the end, until the test file is done.
 */
export interface SchedVm {
  readonly scenario: Scenario;
  /** The scenario file (or the gauntlet entry's file). */
  readonly file: string;
  /** Guest-physical address of each symbol of a bare-metal guest; empty for Linux guests. */
  readonly symbols: BareSymbols;
  readonly state: VmState;
  /** The result, once the VM ended. */
  readonly result: ScenarioResult | undefined;
  /** Starts the VM (once) without waiting for its end. */
  start(): this;
  /** Starts the VM if needed and resolves when it ends (Shutdown, Fatal or Timeout). */
  run(): Promise<ScenarioResult>;
  /** Parks every vCPU and snapshots its registers; the VM stays frozen until thaw(). */
  freeze(trigger?: string): Promise<SnapshotRecord[]>;
  thaw(): void;
  /** freeze() then thaw(): where every vCPU is right now. */
  snapshot(trigger?: string): Promise<SnapshotRecord[]>;
  /** Ends the run now (exit action Timeout unless the guest already chose one). */
  stop(): void;
  /** Snapshots taken so far (freezes, watchpoints, timeout, Fatal). */
  readonly snapshots: readonly SnapshotRecord[];
  /**
   * Guest RAM by guest-physical address, or by symbol: a bare-metal guest's label, or a Linux
   * guest kernel's symbol in its image (static data such as `jiffies` or `system_state`).
   */
  read(at: GuestAddress, len: number): Uint8Array;
  readU32(at: GuestAddress): number;
  readU64(at: GuestAddress): bigint;
  /** The console so far (live while the VM runs). */
  readonly console: Record<ConsolePort, string>;
  /** Resolves with the console so far once `pattern` appears on COM1 (rejects at the VM's end or after timeoutMs). */
  waitForConsole(pattern: string | RegExp, opts?: { timeoutMs?: number; port?: ConsolePort }): Promise<string>;
  /** Watch-slot latch edges seen so far. */
  latchEdges(): number;
}

/** The environment's side, published on the global for the test-side API. */
export interface TestFileContext {
  readonly options: Required<Pick<SchedvmOptions, 'artifacts'>> & SchedvmOptions;
  /** The environment's scenario file, resolved, if one was given. */
  readonly scenarioFile: string | undefined;
  readonly scenario: Scenario | undefined;
  /** A problem to report as the test file's failure (a broken scenario: no stack). */
  readonly error: Error | undefined;
  /** The test file's VM (booting since the environment's setup). */
  vm(): Promise<SchedVm>;
  /** The test file's VM once booted, else undefined (for failure artifacts). */
  readonly bootedVm: SchedVm | undefined;
  /** Loads a scenario file (relative to the directory vitest runs in). */
  load(file: string): { file: string; scenario: Scenario };
  /** The runs of a gauntlet file (or of the environment's scenario). */
  gauntlet(file?: string): { file: string; entries: GauntletEntry[] };
  /** Boots one scenario (a gauntlet entry); release() it when done. */
  boot(scenario: Scenario, file: string): Promise<SchedVm>;
  release(vm: SchedVm): Promise<void>;
}

export const TEST_FILE_KEY = Symbol.for('schedvm.testFile');

export function currentTestFile(): TestFileContext | undefined {
  return (globalThis as { [TEST_FILE_KEY]?: TestFileContext })[TEST_FILE_KEY];
}

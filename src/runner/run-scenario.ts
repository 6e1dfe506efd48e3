// One scenario from start to result, outside the vitest environment: `schedvm run` and the kvm
// tests that boot a scenario of their own. (The environment keeps its VM between tests: session.ts.)
import { warmVcpuPool } from '../vmm/vcpu/pool.ts';
import { poolThreadsFor } from './devices.ts';
import { Vm, type ConsolePort } from '../vmm/vm.ts';
import { BootClock, prepareScenario, scenarioResult, type PreparedScenario, type ScenarioResult } from './prepare.ts';
import type { Scenario } from './scenario/schema.ts';

export interface RunScenarioOptions {
  /** Overrides the scenario's timeout_s. */
  timeoutMs?: number;
  /** Console output as it arrives. */
  onConsole?: (port: ConsolePort, text: string) => void;
  /** The payload is ready, the VM not yet created: warnings, a TAP's name. */
  onPrepared?: (prepared: PreparedScenario) => void;
  /** The VM runs: what a caller needs to stop it early. */
  onStarted?: (vm: Vm) => void;
}

export async function runScenario(scenario: Scenario, opts: RunScenarioOptions = {}): Promise<ScenarioResult> {
  // vCPU threads start meanwhile: a thread's own start-up is about 0.5 s under the sandbox's TCG.
  const [prepared] = await Promise.all([prepareScenario(scenario), warmVcpuPool(poolThreadsFor(scenario))]);
  opts.onPrepared?.(prepared);
  const clock = new BootClock(prepared, scenario.name);
  const vm = await Vm.create({
    ...prepared.config,
    keepMemory: true, // snapshots are symbolised from guest RAM after the run
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    onConsole: (port, text) => {
      clock.watch(port, text);
      opts.onConsole?.(port, text);
    },
  });
  try {
    clock.start(vm);
    opts.onStarted?.(vm);
    const r = await vm.run().finally(() => clock.end());
    await clock.kernelWatch?.settled();
    return scenarioResult(scenario, prepared, r, clock);
  } finally {
    await vm.dispose();
  }
}

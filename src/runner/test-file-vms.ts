// The environment's side of a test file: its scenario (loaded at setup, so a broken one fails
// the file), its VM (booting in the background: vitest allows setup one minute, a Linux
// payload can take longer), gauntlet VMs, and the teardown that frees them all.
import { isAbsolute, resolve } from 'node:path';
import { UserError } from '../errors.ts';
import { needsSandbox, sandboxMode } from '../sandbox/detect.ts';
import { shutdownVcpuPool } from '../vmm/vcpu/pool.ts';
import type { ConsolePort } from '../vmm/vm.ts';
import { loadScenario } from './scenario/load.ts';
import { gauntletOf, isGauntlet } from './scenario/gauntlet.ts';
import type { Scenario } from './scenario/schema.ts';
import { bootScenario, ScenarioVm } from './session.ts';
import type { SchedVm, TestFileContext } from './types.ts';

/** Teardown waits this long for the VMs to stop; vitest gives a worker one minute to stop. */
const CLOSE_TIMEOUT_MS = 40_000;

/** A user-facing error (broken scenario, no /dev/kvm) reads as its message alone. */
export function withoutStack<E extends Error>(e: E): E {
  if ((e as { userFacing?: boolean }).userFacing) e.stack = `${e.name}: ${e.message}`;
  return e;
}

const userError = (message: string) => withoutStack(new UserError(message));

export class TestFileVms implements TestFileContext {
  readonly scenarioFile: string | undefined;
  readonly scenario: Scenario | undefined;
  error: Error | undefined;
  bootedVm: ScenarioVm | undefined;
  private booting?: Promise<ScenarioVm>;
  private readonly vms = new Set<ScenarioVm>();
  private readonly pending = new Set<Promise<unknown>>();

  constructor(
    readonly options: TestFileContext['options'],
    private readonly root = process.cwd(),
  ) {
    if (!options.scenario) return;
    this.scenarioFile = this.path(options.scenario);
    try {
      this.scenario = loadScenario(this.scenarioFile);
    } catch (e) {
      this.error = withoutStack(e as Error);
      return;
    }
    if (needsSandbox(sandboxMode())) {
      // The environment boots VMs in this process: it cannot move itself into the sandbox.
      this.error = userError(
        'no usable /dev/kvm here (missing, or a software KVM such as kvm_pvm): run vitest through the sandbox, ' +
          '`npx schedvm sandbox -- npx vitest run ...`, or set SCHEDVM_SANDBOX=never to use this /dev/kvm anyway',
      );
      return;
    }
    if (!isGauntlet(this.scenario)) {
      this.booting = this.track(this.startBoot(this.scenario, this.scenarioFile));
      this.booting.then(
        (vm) => (this.bootedVm = vm),
        () => undefined,
      ); // errors: reported by vm()
    }
  }

  /** Relative paths stay as written (they name the file in errors), read from the root. */
  private path(file: string): string {
    return isAbsolute(file) || resolve(this.root) === process.cwd() ? file : resolve(this.root, file);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p)).catch(() => undefined);
    return p;
  }

  private async startBoot(scenario: Scenario, file: string): Promise<ScenarioVm> {
    const vm = await bootScenario(scenario, file, this.options.console ? { onConsole: liveConsole(scenario.name) } : {});
    this.vms.add(vm);
    return vm;
  }

  vm(): Promise<SchedVm> {
    if (this.error) return Promise.reject(this.error);
    if (!this.scenarioFile) {
      return Promise.reject(userError('no scenario for this test file: add // @vitest-environment-options {"scenario": "path/to/scenario.yaml"}'));
    }
    if (!this.booting) {
      return Promise.reject(userError(`${this.scenarioFile} is a gauntlet (kernels or topologies): write its tests with gauntlet() from 'schedvm'`));
    }
    return this.booting.catch((e: Error) => Promise.reject(withoutStack(e)));
  }

  load(file: string): { file: string; scenario: Scenario } {
    const path = this.path(file);
    try {
      return { file: path, scenario: loadScenario(path) };
    } catch (e) {
      throw withoutStack(e as Error);
    }
  }

  gauntlet(file?: string): { file: string; entries: ReturnType<typeof gauntletOf> } {
    if (file === undefined) {
      if (this.error) throw this.error;
      if (!this.scenario || !this.scenarioFile) throw userError("gauntlet() without a file needs the environment's scenario option");
      return { file: this.scenarioFile, entries: gauntletOf(this.scenario) };
    }
    const { file: path, scenario } = this.load(file);
    return { file: path, entries: gauntletOf(scenario) };
  }

  boot(scenario: Scenario, file: string): Promise<SchedVm> {
    return this.track(this.startBoot(scenario, file)).catch((e: Error) => Promise.reject(withoutStack(e)));
  }

  async release(vm: SchedVm): Promise<void> {
    if (!(vm instanceof ScenarioVm) || !this.vms.has(vm)) return;
    this.vms.delete(vm);
    await vm.close();
  }

  /** Stops and frees every VM (also after failures, timeouts and --bail), then the vCPU pool. */
  async close(): Promise<void> {
    const all = (async () => {
      await Promise.allSettled([...this.pending]); // VMs still booting join the set first
      await Promise.allSettled([...this.vms].map((vm) => vm.close()));
      this.vms.clear();
      await shutdownVcpuPool();
    })();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), CLOSE_TIMEOUT_MS)));
    const outcome = await Promise.race([all.then(() => 'done' as const), late]);
    clearTimeout(timer);
    if (outcome === 'late') process.stderr.write(`schedvm: VMs still stopping after ${CLOSE_TIMEOUT_MS} ms; the worker's exit frees them\n`);
  }
}

/** The live console: COM1 lines (COM2 prefixed) on stderr, tagged with the scenario. */
function liveConsole(name: string): (port: ConsolePort, text: string) => void {
  const partial: Record<ConsolePort, string> = { com1: '', com2: '', hvc0: '' };
  return (port, text) => {
    const lines = (partial[port] + text).split('\n');
    partial[port] = lines.pop()!;
    for (const line of lines) process.stderr.write(`[${name}${port === 'com2' ? ' com2' : ''}] ${line.replace(/\r$/, '')}\n`);
  };
}

// The test-side fixtures: `vm` and `scenario` (file scope: one VM per test file, owned and
// freed by the schedvm environment), and an automatic one that saves a failed test's artifacts.
import { test as base } from 'vitest';
import { UserError } from '../errors.ts';
import { saveFailureArtifacts } from './artifacts.ts';
import { isGauntlet } from './scenario/gauntlet.ts';
import { currentTestFile, type Scenario, type SchedVm, type TestFileContext } from './types.ts';

/** An error that reads as its message alone (no stack: it is about the test file, not code). */
function plain(message: string): UserError {
  const e = new UserError(message);
  e.stack = `${e.name}: ${message}`;
  return e;
}

/** The environment's side of this file, or a plain instruction when it is not there. */
export function testFile(): TestFileContext {
  const h = currentTestFile();
  if (!h) {
    throw plain("this test file does not run in the schedvm environment: add '// @vitest-environment schedvm' at its top (or environment: 'schedvm' in the vitest config)");
  }
  return h;
}

/** Suite names and the test's, as vitest shows them. */
export function testTitle(task: { name: string; suite?: { name: string; suite?: unknown } }): string {
  const names = [task.name];
  for (let s = task.suite as { name: string; suite?: unknown } | undefined; s?.name; s = s.suite as typeof s) names.unshift(s.name);
  return names.join(' > ');
}

/** Boots another scenario for one test; its VM is freed when the test ends. */
export type BootFn = (file: string) => Promise<SchedVm>;

export const test = base
  .extend('vm', { scope: 'file' }, async (): Promise<SchedVm> => testFile().vm())
  .extend('scenario', { scope: 'file' }, async (): Promise<Scenario> => {
    const h = testFile();
    if (h.error) throw h.error;
    if (!h.scenario) throw plain('no scenario for this test file: add // @vitest-environment-options {"scenario": "path/to/scenario.yaml"}');
    return h.scenario;
  })
  // On failure, the VMs this test could have touched leave their console and result behind.
  .extend('schedvmArtifacts', { auto: true }, async ({ onTestFailed, task }): Promise<{ track(vm: SchedVm): void }> => {
    const booted: SchedVm[] = [];
    onTestFailed(({ task: t }) => {
      const h = currentTestFile();
      if (!h) return;
      const vms = [...(h.bootedVm ? [h.bootedVm] : []), ...booted];
      saveFailureArtifacts(h.options.artifacts, { file: task.file.filepath, name: testTitle(task) }, vms, t.result?.errors ?? []);
    });
    return { track: (vm) => booted.push(vm) };
  })
  .extend('boot', async ({ schedvmArtifacts }, { onCleanup }): Promise<BootFn> => {
    const h = testFile();
    const vms: SchedVm[] = [];
    onCleanup(async () => {
      await Promise.all(vms.map((vm) => h.release(vm)));
    });
    return async (file) => {
      const { file: path, scenario } = h.load(file);
      if (isGauntlet(scenario)) throw plain(`${file} is a gauntlet (kernels or topologies): use gauntlet() for it`);
      const vm = await h.boot(scenario, path);
      vms.push(vm);
      schedvmArtifacts.track(vm);
      return vm;
    };
  });

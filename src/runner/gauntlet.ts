// gauntlet(): the same test on every kernel and topology of a scenario's `kernels` and
// `topologies`, one VM each, one test each named <kernel>/<topology> (or the one that varies);
// its expect gates (scheduler_exit, workload) hold for each of them.
import { test } from 'vitest';
import { kernelLabel } from '../fixtures/kernels/resolve.ts';
import { flatTopology, formatTopology } from '../vmm/topology.ts';
import { saveFailureArtifacts } from './artifacts.ts';
import { testFile, testTitle } from './vitest-fixtures.ts';
import { hasScenarioGates, scenarioGate } from './gates.ts';
import type { Scenario, SchedVm } from './types.ts';

export interface GauntletContext {
  /** This entry's VM (created, not started: call vm.run()). */
  vm: SchedVm;
  /** The test's name: `<kernel>/<topology>`, or the one of them the gauntlet varies. */
  name: string;
  /** The topology's shorthand, e.g. 2n4l2c2t (a kernels-only gauntlet: its one topology's). */
  topology: string;
  /** Linux guests: the kernel as the scenario names it (debian-sched-ext@sid, build:<dir>). */
  kernel?: string;
  scenario: Scenario;
}

export type GauntletFn = (ctx: GauntletContext) => unknown;

const declared = new Set<string>();

/** Whether this test file declared a gauntlet of `file` (so its topologies are gated). */
export function gauntletDeclared(file: string): boolean {
  return declared.has(file);
}

/** Declares one test per topology of `file` (default: the environment's scenario). */
export function gauntlet(fn: GauntletFn): void;
export function gauntlet(file: string, fn: GauntletFn): void;
export function gauntlet(a: string | GauntletFn, b?: GauntletFn): void {
  const [file, fn] = typeof a === 'string' ? [a, b!] : [undefined, a];
  const h = testFile();
  const g = h.gauntlet(file); // a broken scenario fails the file here, at collection
  declared.add(g.file);
  for (const entry of g.entries) {
    test(entry.name, async ({ onTestFailed, task }) => {
      const vm = await h.boot(entry.scenario, g.file);
      onTestFailed(({ task: t }) => {
        saveFailureArtifacts(h.options.artifacts, { file: task.file.filepath, name: testTitle(task) }, [vm], t.result?.errors ?? []);
      });
      try {
        const { topology, vcpus, kernel } = entry.scenario;
        const shape = formatTopology(topology ?? flatTopology(vcpus));
        await fn({ vm, name: entry.name, topology: shape, ...(kernel !== undefined ? { kernel: kernelLabel(kernel) } : {}), scenario: entry.scenario });
        if (hasScenarioGates(entry.scenario)) {
          const failure = scenarioGate(`${g.file} (${entry.name})`, entry.scenario, await vm.run());
          if (failure) throw new Error(failure);
        }
      } finally {
        await h.release(vm);
      }
    });
  }
}

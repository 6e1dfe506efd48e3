// A gauntlet (`kernels: [...]`, `topologies: [...]`, or both) is one scenario per kernel and
// topology, each named by them: `<kernel>/<topology>`, or the one that varies.
import { kernelLabel } from '../../fixtures/kernels/resolve.ts';
import { formatTopology } from '../../vmm/topology.ts';
import { type Scenario, vcpusOf } from './schema.ts';

export interface GauntletEntry {
  /** `<kernel>/<topology>` (debian-sched-ext@sid/2n4l2c2t), or the one of them that varies: the test's name. */
  name: string;
  scenario: Scenario;
}

/** Whether `s` is a gauntlet (several VMs, one test each), not one VM. */
export function isGauntlet(s: Scenario): boolean {
  return s.topologies !== undefined || s.kernels !== undefined;
}

/** The scenarios a gauntlet runs; a plain scenario is a gauntlet of one, named by itself. */
export function gauntletOf(s: Scenario): GauntletEntry[] {
  if (!isGauntlet(s)) return [{ name: s.name, scenario: s }];
  const { topologies, kernels, ...rest } = s;
  const kernelRuns = kernels ?? [undefined];
  const topologyRuns = topologies ?? [undefined];
  return kernelRuns.flatMap((kernel) =>
    topologyRuns.map((t) => {
      const name = [kernel !== undefined ? kernelLabel(kernel) : undefined, t ? formatTopology(t) : undefined].filter(Boolean).join('/');
      return {
        name,
        scenario: {
          ...rest,
          name: `${s.name}/${name}`,
          ...(kernel !== undefined ? { kernel } : {}),
          ...(t ? { topology: t, vcpus: vcpusOf(t) } : {}),
        },
      };
    }),
  );
}

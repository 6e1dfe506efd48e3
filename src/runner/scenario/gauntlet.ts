// A gauntlet (`topologies: [...]`) is one scenario per topology, each named by its shorthand.
import { formatTopology } from '../../vmm/topology.ts';
import type { Scenario } from './schema.ts';

export interface GauntletEntry {
  /** The topology's shorthand (2n4l2c2t): the test's name. */
  name: string;
  scenario: Scenario;
}

/** The scenarios a gauntlet runs; a plain scenario is a gauntlet of one, named by itself. */
export function gauntletOf(s: Scenario): GauntletEntry[] {
  if (!s.topologies) return [{ name: s.name, scenario: s }];
  return s.topologies.map((t) => {
    const { topologies: _, ...rest } = s;
    const name = formatTopology(t);
    return { name, scenario: { ...rest, name: `${s.name}/${name}`, topology: t, vcpus: t.llcs * t.cores_per_llc * t.threads_per_core } };
  });
}

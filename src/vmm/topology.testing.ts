// Tests name topologies by their shorthand; the user-facing parser (with its errors) lives in
// the scenario layer, so VMM tests read only well-formed ones.
import type { Topology } from './topology.ts';

/** `2n4l2c2t` as a Topology; throws on anything else. */
export function shape(text: string): Topology {
  const m = /^(\d+)n(\d+)l(\d+)c(\d+)t$/.exec(text);
  if (!m) throw new Error(`not a topology shape: ${text}`);
  return { numa_nodes: Number(m[1]), llcs: Number(m[2]), cores_per_llc: Number(m[3]), threads_per_core: Number(m[4]) };
}

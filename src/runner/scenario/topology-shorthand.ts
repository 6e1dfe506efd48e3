// The `<N>n<L>l<C>c<T>t` shorthand a scenario may write for its topology: parsed here, in the
// scenario layer, with errors that name the part a user got wrong. The VMM takes Topology objects.
import { UserError } from '../../errors.ts';
import { MAX_X2APIC_ID, validateTopology, type Topology } from '../../vmm/topology.ts';

const PARTS = [
  { suffix: 'n', field: 'numa_nodes', what: 'NUMA node count' },
  { suffix: 'l', field: 'llcs', what: 'LLC count' },
  { suffix: 'c', field: 'cores_per_llc', what: 'cores per LLC' },
  { suffix: 't', field: 'threads_per_core', what: 'threads per core' },
] as const;
const SHAPE = '<N>n<L>l<C>c<T>t';

/** `2n4l2c2t` -> 2 nodes, 4 LLCs in all, 2 cores per LLC, 2 threads per core. */
export function parseTopologyShorthand(text: string): Topology {
  const values: number[] = [];
  let rest = text.trim();
  for (const part of PARTS) {
    const m = /^(\d+)([a-z]?)/i.exec(rest);
    if (!m || m[2]!.toLowerCase() !== part.suffix) {
      const at = rest === '' ? 'missing' : `at '${rest}'`;
      throw new UserError(`topology '${text}': expected ${SHAPE} (${at}: ${part.what} '<n>${part.suffix}')`);
    }
    values.push(Number(m[1]));
    rest = rest.slice(m[0].length);
  }
  if (rest !== '') throw new UserError(`topology '${text}': expected ${SHAPE} (unexpected '${rest}' at the end)`);
  const [numa_nodes, llcs, cores_per_llc, threads_per_core] = values as [number, number, number, number];
  const t: Topology = { numa_nodes, llcs, cores_per_llc, threads_per_core };
  const problems = validateTopology(t, MAX_X2APIC_ID); // the scenario checks Linux's lower limit
  if (problems.length > 0) {
    throw new UserError(`topology '${text}': ${problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('; ')}`);
  }
  return t;
}

import { describe, expect, it } from 'vitest';
import { flatTopology, formatTopology } from '../../vmm/topology.ts';
import { parseTopologyShorthand } from './topology-shorthand.ts';

const T = parseTopologyShorthand;

describe('topology shorthand', () => {
  it('parses each count into its field and formats back', () => {
    expect(T('2n4l2c2t')).toEqual({ numa_nodes: 2, llcs: 4, cores_per_llc: 2, threads_per_core: 2 });
    expect(formatTopology(T('1n3l5c1t'))).toBe('1n3l5c1t');
    expect(formatTopology(flatTopology(6))).toBe('1n1l6c1t');
  });

  it('names the missing or malformed part', () => {
    expect(() => T('2n4l2c')).toThrow("topology '2n4l2c': expected <N>n<L>l<C>c<T>t (missing: threads per core '<n>t')");
    expect(() => T('2n4x2c2t')).toThrow("(at '4x2c2t': LLC count '<n>l')");
    expect(() => T('n4l2c2t')).toThrow("(at 'n4l2c2t': NUMA node count '<n>n')");
    expect(() => T('1n1l1c1tx')).toThrow("(unexpected 'x' at the end)");
  });

  it('rejects counts Linux cannot use, naming the field', () => {
    expect(() => T('0n1l1c1t')).toThrow("topology '0n1l1c1t': numa_nodes: must be a positive integer (got 0)");
    expect(() => T('2n3l1c1t')).toThrow('llcs: 3 LLCs cannot be split evenly across 2 NUMA nodes');
  });
});

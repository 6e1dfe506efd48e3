import { describe, expect, it } from 'vitest';
import { allPlacements, apicLayout, cpuPlacement, highestApicId, MAX_X2APIC_ID, numaDistances, validateTopology, vcpuCount, type Topology } from './topology.ts';
import { shape } from './topology.testing.ts';

const T = shape;

describe('validateTopology', () => {
  const base: Topology = { numa_nodes: 2, llcs: 2, cores_per_llc: 1, threads_per_core: 1 };

  it('accepts a good topology with or without distances', () => {
    expect(validateTopology(base)).toEqual([]);
    expect(
      validateTopology({
        ...base,
        distances: [
          [10, 21],
          [31, 10],
        ],
      }),
    ).toEqual([]); // asymmetric is legal
  });

  it('reports every bad count with its path', () => {
    expect(validateTopology({ numa_nodes: 1, llcs: -1, cores_per_llc: 1.5, threads_per_core: 0 })).toEqual([
      { path: 'llcs', message: 'must be a positive integer (got -1)' },
      { path: 'cores_per_llc', message: 'must be a positive integer (got 1.5)' },
      { path: 'threads_per_core', message: 'must be a positive integer (got 0)' },
    ]);
  });

  it('checks the distance matrix shape and the SLIT rules Linux enforces', () => {
    expect(validateTopology({ ...base, distances: [[10, 20]] })).toEqual([{ path: 'distances', message: 'must be a 2x2 matrix (one row per NUMA node)' }]);
    expect(validateTopology({ ...base, distances: [[10, 20], [20]] })).toEqual([{ path: 'distances[1]', message: 'must have 2 entries' }]);
    expect(
      validateTopology({
        ...base,
        distances: [
          [11, 10],
          [255, 10.5],
        ],
      }),
    ).toEqual([
      { path: 'distances[0][0]', message: 'must be 10 (local distance), got 11' },
      { path: 'distances[0][1]', message: 'must be between 11 and 254, got 10' },
      { path: 'distances[1][0]', message: 'must be between 11 and 254, got 255' },
      { path: 'distances[1][1]', message: 'must be an integer (got 10.5)' },
    ]);
  });

  it('rejects shapes whose APIC ids Linux would not start', () => {
    expect(validateTopology({ numa_nodes: 1, llcs: 1, cores_per_llc: 255, threads_per_core: 1 })).toEqual([]);
    expect(validateTopology({ numa_nodes: 4, llcs: 4, cores_per_llc: 64, threads_per_core: 1 })).toEqual([
      {
        path: '',
        message: 'highest APIC id would be 255 (power-of-two padding per level); Linux guests without interrupt remapping only start CPUs with APIC ids up to 254',
      },
    ]);
    expect(validateTopology({ numa_nodes: 2, llcs: 6, cores_per_llc: 21, threads_per_core: 2 }, MAX_X2APIC_ID)).toEqual([]);
    expect(highestApicId({ numa_nodes: 2, llcs: 6, cores_per_llc: 21, threads_per_core: 2 })).toBe(425);
    expect(validateTopology({ numa_nodes: 17, llcs: 17, cores_per_llc: 256, threads_per_core: 1 }, MAX_X2APIC_ID)).toEqual([
      { path: '', message: '4352 vCPUs; a VM has at most 1024 (one thread each)' },
      { path: '', message: 'highest APIC id would be 4351 (power-of-two padding per level); KVM names vCPUs with APIC ids up to 4095' },
    ]);
    // 16 nodes of 128 vCPUs fit the x2APIC ids (to 2047) but not one VM's threads.
    expect(validateTopology({ numa_nodes: 16, llcs: 16, cores_per_llc: 128, threads_per_core: 1 }, MAX_X2APIC_ID)).toEqual([
      { path: '', message: '2048 vCPUs; a VM has at most 1024 (one thread each)' },
    ]);
    expect(validateTopology({ numa_nodes: 8, llcs: 8, cores_per_llc: 128, threads_per_core: 1 }, MAX_X2APIC_ID)).toEqual([]);
    expect(validateTopology({ numa_nodes: 1, llcs: 1, cores_per_llc: 150, threads_per_core: 2 }).map((p) => p.message)).toEqual([
      '300 vCPUs per NUMA node; at most 256 fit one package',
      expect.stringMatching(/^highest APIC id would be 299 /),
    ]);
  });
});

describe('cpuPlacement', () => {
  const ids = (s: string) => allPlacements(T(s)).map((p) => p.apicId);

  it('lays out 1n1l1c1t as a single CPU', () => {
    expect(vcpuCount(T('1n1l1c1t'))).toBe(1);
    expect(cpuPlacement(T('1n1l1c1t'), 0)).toEqual({ vcpu: 0, node: 0, llc: 0, core: 0, thread: 0, apicId: 0, coreId: 0 });
  });

  it('numbers threads fastest: 1n1l2c2t', () => {
    expect(allPlacements(T('1n1l2c2t')).map(({ core, thread, apicId, coreId }) => [core, thread, apicId, coreId])).toEqual([
      [0, 0, 0, 0],
      [0, 1, 1, 0],
      [1, 0, 2, 1],
      [1, 1, 3, 1],
    ]);
  });

  it('puts LLCs in aligned blocks: 1n2l2c1t', () => {
    expect(allPlacements(T('1n2l2c1t')).map(({ llc, core, apicId, coreId }) => [llc, core, apicId, coreId])).toEqual([
      [0, 0, 0, 0],
      [0, 1, 1, 1],
      [1, 0, 2, 2],
      [1, 1, 3, 3],
    ]);
  });

  it('gives each node its own package: 2n2l2c2t', () => {
    const p = allPlacements(T('2n2l2c2t'));
    expect(p.map((x) => x.node)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    expect(p.map((x) => x.apicId)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(p.map((x) => x.coreId)).toEqual([0, 0, 1, 1, 0, 0, 1, 1]);
    expect(apicLayout(T('2n2l2c2t'))).toEqual({ smtBits: 1, coreBits: 1, llcBits: 0, smtShift: 1, llcShift: 2, pkgShift: 2 });
  });

  it('maps two LLCs per node: 2n4l2c1t', () => {
    const p = allPlacements(T('2n4l2c1t'));
    expect(p.map((x) => [x.node, x.llc, x.core, x.apicId, x.coreId])).toEqual([
      [0, 0, 0, 0, 0],
      [0, 0, 1, 1, 1],
      [0, 1, 0, 2, 2],
      [0, 1, 1, 3, 3],
      [1, 2, 0, 4, 0],
      [1, 2, 1, 5, 1],
      [1, 3, 0, 6, 2],
      [1, 3, 1, 7, 3],
    ]);
  });

  it('pads counts that are not powers of two', () => {
    expect(ids('1n2l3c1t')).toEqual([0, 1, 2, 4, 5, 6]);
    expect(ids('2n2l1c3t')).toEqual([0, 1, 2, 4, 5, 6]);
    expect(ids('3n3l1c1t')).toEqual([0, 1, 2]);
  });

  it('rejects an index outside the topology', () => {
    expect(() => cpuPlacement(T('1n1l2c1t'), 2)).toThrow('vCPU 2 is outside topology 1n1l2c1t (2 vCPUs)');
  });
});

describe('numaDistances', () => {
  it('defaults to 10 local and 20 remote, and copies declared ones', () => {
    expect(numaDistances(T('2n2l1c1t'))).toEqual([
      [10, 20],
      [20, 10],
    ]);
    const d = [
      [10, 15],
      [15, 10],
    ];
    const t = { ...T('2n2l1c1t'), distances: d };
    expect(numaDistances(t)).toEqual(d);
    expect(numaDistances(t)).not.toBe(d);
  });
});

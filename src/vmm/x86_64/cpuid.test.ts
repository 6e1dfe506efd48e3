import { describe, expect, it } from 'vitest';
import { shape } from '../topology.testing.ts';
import type { CpuidEntry } from '../kvm.ts';
import { allPlacements, flatTopology, vcpuCount, type Topology } from '../topology.ts';
import { cpuidForVcpu, cpuVendor, syntheticAmdCaches, ZEN2_SIGNATURE } from './cpuid.ts';

function table(text: string): CpuidEntry[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [fn, index, flags, eax, ebx, ecx, edx] = line.trim().split(/\s+/).map(Number) as number[];
      return { function: fn!, index: index!, flags: flags!, eax: eax!, ebx: ebx!, ecx: ecx!, edx: edx! };
    });
}

// KVM_GET_SUPPORTED_CPUID on this project's AMD EPYC (family 19h) host, zero leaves trimmed.
const AMD = table(`
  0x00000000 0 0 0x0000001c 0x68747541 0x444d4163 0x69746e65
  0x00000001 0 0 0x00a10f11 0x00020800 0x81202000 0x078bfbff
  0x00000004 0 1 0x00000000 0x00000000 0x00000000 0x00000000
  0x00000007 0 1 0x00000001 0x01800002 0x00000104 0x20000000
  0x0000000b 0 1 0x00000000 0x00000000 0x00000000 0x00000001
  0x0000000d 0 1 0x000000e7 0x00000980 0x00000980 0x00000000
  0x80000000 0 0 0x80000021 0x68747541 0x444d4163 0x69746e65
  0x80000001 0 0 0x00a10f11 0x40000000 0x00400393 0x23d3fbff
  0x80000005 0 0 0xff48ff40 0xff48ff40 0x20080140 0x20080140
  0x80000006 0 0 0x5c002200 0x6c004200 0x04006140 0x0a009140
  0x80000008 0 0 0x00003030 0x50020005 0x00007001 0x00000000
  0x8000001d 0 1 0x00000121 0x01c0003f 0x0000003f 0x00000000
  0x8000001d 1 1 0x00000122 0x01c0003f 0x0000003f 0x00000000
  0x8000001d 2 1 0x00000143 0x01c0003f 0x000007ff 0x00000002
  0x8000001d 3 1 0x00004163 0x03c0003f 0x00007fff 0x00000001
  0x8000001d 4 1 0x00000000 0x00000000 0x00000000 0x00000000
  0x8000001e 0 0 0x00000000 0x00000000 0x00000000 0x00000000
  0x80000021 0 0 0x00000204 0x00000000 0x00000006 0x00000000
`);

// A Zen 5-like host: extended leaves up to 0x80000026, which carries its own (host) topology.
const AMD_WITH_26 = [
  ...AMD.map((e) => (e.function === 0x8000_0000 ? { ...e, eax: 0x8000_0026 } : e)),
  ...table(`
  0x80000026 0 1 0x00000001 0x00000002 0x00000100 0x00000003
  0x80000026 1 1 0x00000004 0x00000010 0x00000201 0x00000003
  `),
];

// An Intel-like host (max basic leaf 0x1f), with deterministic cache parameters in leaf 4.
const INTEL = table(`
  0x00000000 0 0 0x0000001f 0x756e6547 0x6c65746e 0x49656e69
  0x00000001 0 0 0x000806f8 0x00010800 0xfffa3203 0x0f8bfbff
  0x00000004 0 1 0x1c004121 0x02c0003f 0x0000003f 0x00000000
  0x00000004 1 1 0x1c004122 0x01c0003f 0x0000003f 0x00000000
  0x00000004 2 1 0x1c004143 0x03c0003f 0x000007ff 0x00000000
  0x00000004 3 1 0x1c03c163 0x0380003f 0x0000ffff 0x00000004
  0x00000004 4 1 0x00000000 0x00000000 0x00000000 0x00000000
  0x0000000b 0 1 0x00000001 0x00000002 0x00000100 0x00000000
  0x0000001f 0 1 0x00000001 0x00000002 0x00000100 0x00000000
  0x80000000 0 0 0x80000008 0x00000000 0x00000000 0x00000000
  0x80000001 0 0 0x00000000 0x00000000 0x00000121 0x2c100800
  0x80000008 0 0 0x00003030 0x00000000 0x00000000 0x00000000
`);

/** CPUID as KVM answers it: exact (function, index) for indexed leaves, zeros when absent. */
function cpuidOf(entries: readonly CpuidEntry[]) {
  return (fn: number, index = 0) => {
    const e = entries.find((x) => x.function === fn && ((x.flags & 1) === 0 || x.index === index));
    return e ?? { function: fn, index, flags: 0, eax: 0, ebx: 0, ecx: 0, edx: 0 };
  };
}

const countOrder = (n: number): number => Math.ceil(Math.log2(n));
const bits = (v: number, lo: number, width: number): number => Math.floor(v / 2 ** lo) % 2 ** width;

interface Derived {
  apicId: number;
  pkgId: number;
  coreId: number;
  llcId: number;
  /** AMD node (6.1's die id). */
  node: number;
  maxCores: number;
}

type Cpuid = ReturnType<typeof cpuidOf>;

/** Linux 7.x cpu_parse_topology_ext(): 0x1F, then 0x80000026, then 0xB. */
function parseExt(c: Cpuid): { smt: number; core: number; ncpus: number; apic: number; smtN: number } | undefined {
  const maxBasic = c(0).eax;
  const maxExt = c(0x8000_0000).eax;
  const leaves = [...(maxBasic >= 0x1f ? [0x1f] : []), ...(maxExt >= 0x8000_0026 ? [0x8000_0026] : []), ...(maxBasic >= 0xb ? [0xb] : [])];
  for (const leaf of leaves) {
    const shifts: number[] = [];
    const counts: number[] = [];
    let sub = 0;
    for (; ; sub++) {
      const r = c(leaf, sub);
      if ((r.ebx & 0xffff) === 0 || bits(r.ecx, 8, 8) === 0) break;
      shifts.push(r.eax & 0x1f);
      counts.push(r.ebx & 0xffff);
    }
    if (sub === 0) continue;
    return { smt: shifts[0]!, core: shifts.at(-1)!, ncpus: counts.at(-1)!, smtN: counts[0]!, apic: c(leaf, 0).edx };
  }
  return undefined;
}

function llcShiftAmd(c: Cpuid): number {
  let last = 0;
  while (bits(c(0x8000_001d, last).eax, 0, 5) !== 0) last++;
  return countOrder(bits(c(0x8000_001d, last - 1).eax, 14, 12) + 1);
}

/** Linux 7.x on AMD: topology_amd.c + cacheinfo_amd_init_llc_id + topo_set_ids. */
function linux7Amd(c: Cpuid): Derived {
  const topoext = (c(0x8000_0001).ecx & (1 << 22)) !== 0;
  let smt: number;
  let core: number;
  let ncpus: number;
  const ext = topoext ? parseExt(c) : undefined;
  if (ext) {
    ({ smt, core, ncpus } = ext);
  } else {
    const ecx = c(0x8000_0008).ecx;
    core = bits(ecx, 12, 4) || countOrder(bits(ecx, 0, 8) + 1);
    ncpus = bits(ecx, 0, 8) + 1;
    smt = topoext ? countOrder(bits(c(0x8000_001e).ebx, 8, 8) + 1) : 0;
  }
  const apicId = topoext ? c(0x8000_001e).eax : bits(c(1).ebx, 24, 8);
  return {
    apicId,
    pkgId: Math.floor(apicId / 2 ** core),
    coreId: Math.floor((apicId % 2 ** core) / 2 ** smt),
    llcId: Math.floor(apicId / 2 ** llcShiftAmd(c)),
    node: bits(c(0x8000_001e).ecx, 0, 8),
    maxCores: Math.floor(ncpus / 2 ** smt),
  };
}

/** Linux 6.1 on AMD family 17h+: early_init_amd_mc, amd_detect_cmp, amd_get_topology, detect_extended_topology. */
function linux61Amd(c: Cpuid, useLeafB: boolean): Derived {
  const ecx8 = c(0x8000_0008).ecx;
  let maxCores = bits(ecx8, 0, 8) + 1;
  const coreidBits = bits(ecx8, 12, 4) || countOrder(maxCores);
  let siblings = bits(c(0x8000_001e).ebx, 8, 8) + 1;
  let apicId = bits(c(1).ebx, 24, 8);
  let pkgId = Math.floor(apicId / 2 ** coreidBits);
  let coreId = c(0x8000_001e).ebx & 0xff;
  if (siblings > 1) maxCores = Math.floor(maxCores / siblings);
  const b0 = c(0xb, 0);
  if (useLeafB && b0.ebx !== 0 && bits(b0.ecx, 8, 8) === 1) {
    apicId = b0.edx;
    siblings = Math.max(siblings, b0.ebx & 0xffff);
    const ht = b0.eax & 0x1f;
    let pkgWidth = ht;
    let coreSiblings = b0.ebx & 0xffff;
    for (let sub = 1; bits(c(0xb, sub).ecx, 8, 8) !== 0; sub++) {
      const r = c(0xb, sub);
      if (bits(r.ecx, 8, 8) === 2) coreSiblings = r.ebx & 0xffff;
      pkgWidth = r.eax & 0x1f;
    }
    coreId = Math.floor(apicId / 2 ** ht) % 2 ** (pkgWidth - ht);
    pkgId = Math.floor(apicId / 2 ** pkgWidth);
    maxCores = Math.floor(coreSiblings / siblings);
  }
  // identify_cpu() -> detect_ht(): unless CmpLegacy (or XTOPOLOGY, which 6.1 may not set on AMD).
  if (bits(c(1).edx, 28, 1) && !bits(c(0x8000_0001).ecx, 1, 1)) {
    const nproc = bits(c(1).ebx, 16, 8);
    pkgId = Math.floor(apicId / 2 ** countOrder(nproc));
    const sib = Math.floor(nproc / maxCores);
    coreId = Math.floor(apicId / 2 ** countOrder(sib)) % 2 ** countOrder(maxCores);
  }
  return { apicId, pkgId, coreId, llcId: Math.floor(apicId / 2 ** llcShiftAmd(c)), node: bits(c(0x8000_001e).ecx, 0, 8), maxCores };
}

/** Linux 7.x on Intel: 0x1F/0xB shifts, LLC id from leaf 4's L3 sharing. */
function linux7Intel(c: Cpuid): Derived {
  const ext = parseExt(c)!;
  let l3 = -1;
  for (let i = 0; bits(c(4, i).eax, 0, 5) !== 0; i++) if (bits(c(4, i).eax, 5, 3) === 3) l3 = i;
  const llcShift = countOrder(bits(c(4, l3).eax, 14, 12) + 1);
  return {
    apicId: ext.apic,
    pkgId: Math.floor(ext.apic / 2 ** ext.core),
    coreId: Math.floor((ext.apic % 2 ** ext.core) / 2 ** ext.smt),
    llcId: Math.floor(ext.apic / 2 ** llcShift) * 2 ** llcShift,
    node: -1,
    maxCores: Math.floor(ext.ncpus / 2 ** ext.smt),
  };
}

/** Groups of vCPU indexes sharing a key, in first-seen order. */
function groups(keys: string[]): number[][] {
  const m = new Map<string, number[]>();
  keys.forEach((k, i) => {
    m.set(k, [...(m.get(k) ?? []), i]);
  });
  return [...m.values()];
}

function declared(t: Topology) {
  const p = allPlacements(t);
  return {
    cores: groups(p.map((x) => `${x.llc}/${x.core}`)),
    llcs: groups(p.map((x) => `${x.llc}`)),
    nodes: groups(p.map((x) => `${x.node}`)),
    coreIds: p.map((x) => x.coreId),
    apicIds: p.map((x) => x.apicId),
  };
}

/** What sysfs would show: thread_siblings, cache/index3 shared_cpu_map, packages, core_id. */
function observed(d: Derived[]) {
  return {
    cores: groups(d.map((x) => `${x.pkgId}/${x.node}/${x.llcId}/${x.coreId}`)),
    llcs: groups(d.map((x) => `${x.llcId}`)),
    nodes: groups(d.map((x) => `${x.pkgId}`)),
    coreIds: d.map((x) => x.coreId),
    apicIds: d.map((x) => x.apicId),
  };
}

const SHAPES = ['1n1l1c1t', '1n1l2c2t', '1n2l2c1t', '2n2l2c2t', '2n4l2c1t', '1n2l3c1t', '2n4l3c2t', '1n1l5c1t', '1n1l5c2t'];

describe('cpuidForVcpu: what Linux derives', () => {
  for (const name of SHAPES) {
    const t = shape(name);
    const per = (host: CpuidEntry[]) => Array.from({ length: vcpuCount(t) }, (_, i) => cpuidOf(cpuidForVcpu(host, t, i)));

    it(`${name}: Linux 7.x on AMD sees the declared SMT cores, LLCs, packages and core ids`, () => {
      const d = per(AMD).map(linux7Amd);
      expect(observed(d)).toEqual(declared(t));
      expect(new Set(d.map((x) => x.maxCores))).toEqual(new Set([(t.llcs / t.numa_nodes) * t.cores_per_llc]));
      expect(d.map((x) => x.node)).toEqual(allPlacements(t).map((p) => p.node));
    });

    it(`${name}: Linux 6.1 on AMD agrees, with and without leaf 0xB`, () => {
      for (const useLeafB of [true, false]) {
        const d = per(AMD).map((c) => linux61Amd(c, useLeafB));
        expect(observed(d)).toEqual(declared(t));
        expect(new Set(d.map((x) => x.maxCores))).toEqual(new Set([(t.llcs / t.numa_nodes) * t.cores_per_llc]));
      }
    });

    it(`${name}: Linux 7.x on an AMD host without cache leaves (emulated CPU) still sees the LLCs`, () => {
      // As QEMU's emulated CPU: no 0x8000001D/0x8000001E, maximum extended leaf 0x80000008.
      const bare = AMD.filter((e) => e.function < 0x8000_0009).map((e) => (e.function === 0x8000_0000 ? { ...e, eax: 0x8000_0008 } : e));
      const leaves = per(bare);
      expect(leaves[0]!(0x8000_0000).eax).toBe(0x8000_001e);
      // Family 0x17 (Zen 2): Linux only reads the LLC from 0x8000001D from family 0x17 on.
      expect([leaves[0]!(1).eax, leaves[0]!(0x8000_0001).eax]).toEqual([ZEN2_SIGNATURE, ZEN2_SIGNATURE]);
      expect(observed(leaves.map(linux7Amd))).toEqual(declared(t));
    });

    it(`${name}: Linux 7.x on AMD ignores the host's 0x80000026`, () => {
      expect(observed(per(AMD_WITH_26).map(linux7Amd))).toEqual(declared(t));
    });

    it(`${name}: Linux 7.x on Intel agrees through 0x1F and leaf 4`, () => {
      const d = per(INTEL).map(linux7Intel);
      const want = declared(t);
      expect(observed(d)).toEqual(want);
    });
  }
});

describe('syntheticAmdCaches', () => {
  it('describes L1d, L1i, L2, L3 and an end marker with consistent geometry', () => {
    const c = syntheticAmdCaches();
    expect(c.map((e) => [e.index, e.eax & 0x1f, (e.eax >> 5) & 7])).toEqual([
      [0, 1, 1],
      [1, 2, 1],
      [2, 3, 2],
      [3, 3, 3],
      [4, 0, 0],
    ]);
    const bytes = (e: CpuidEntry) => ((e.ebx & 0xfff) + 1) * ((e.ebx >>> 22) + 1) * (e.ecx + 1);
    expect(c.slice(0, 4).map(bytes)).toEqual([32 << 10, 32 << 10, 512 << 10, 16 << 20]);
  });
});

describe('cpuidForVcpu: raw leaves', () => {
  const t = shape('2n4l2c2t'); // smt 1 bit, core 1 bit, llc 1 bit: pkg shift 3
  const vcpu13 = cpuidOf(cpuidForVcpu(AMD, t, 13)); // node 1, llc 3, core 0, thread 1 -> APIC 0b1_1_0_1

  it('patches leaf 1: APIC id, addressable ids, HTT', () => {
    expect(vcpu13(1).ebx).toBe(0x0d08_0800);
    expect(vcpu13(1).edx).toBe(0x078bfbff | (1 << 28));
    expect(cpuidOf(cpuidForVcpu(AMD, flatTopology(1), 0))(1).edx).toBe(0x078bfbff);
  });

  it('hides 5-level paging', () => {
    const withLa57 = AMD.map((e) => (e.function === 7 && e.index === 0 ? { ...e, ecx: e.ecx | (1 << 16) } : e));
    expect(withLa57.some((e) => e.function === 7)).toBe(true);
    expect(cpuidOf(cpuidForVcpu(withLa57, t, 0))(7, 0).ecx & (1 << 16)).toBe(0);
  });

  it('says hypervisor in leaf 1, and TSC-deadline only when the LAPIC emulates it', () => {
    const ecx = (opts: { tscDeadline?: boolean }) => cpuidOf(cpuidForVcpu(AMD, t, 13, opts))(1).ecx;
    const host = AMD.find((e) => e.function === 1)!.ecx;
    expect(ecx({})).toBe((host | (1 << 31)) >>> 0);
    expect(ecx({ tscDeadline: true })).toBe((host | (1 << 31) | (1 << 24)) >>> 0);
  });

  it('writes 0xB: SMT level, core level up to the package, terminator', () => {
    expect([0, 1, 2].map((i) => vcpu13(0xb, i))).toEqual([
      { function: 0xb, index: 0, flags: 1, eax: 1, ebx: 2, ecx: 0x100, edx: 13 },
      { function: 0xb, index: 1, flags: 1, eax: 3, ebx: 8, ecx: 0x201, edx: 13 },
      { function: 0xb, index: 2, flags: 1, eax: 0, ebx: 0, ecx: 2, edx: 13 },
    ]);
    expect(cpuidForVcpu(AMD, t, 13).filter((e) => e.function === 0x1f)).toEqual([]); // max basic leaf is 0x1c
  });

  it('writes the AMD leaves: 0x80000008 NC/ApicIdSize, 0x8000001D sharing, 0x8000001E ids', () => {
    expect(vcpu13(0x8000_0008).ecx).toBe(0x0000_3007);
    expect([0, 1, 2, 3, 4].map((i) => vcpu13(0x8000_001d, i).eax)).toEqual([0x4121, 0x4122, 0x4143, 0xc163, 0]);
    expect(vcpu13(0x8000_001e)).toEqual({ function: 0x8000_001e, index: 0, flags: 0, eax: 13, ebx: 0x102, ecx: 1, edx: 0 });
    expect(vcpu13(0x8000_0001).ecx).toBe(0x0040_0393);
  });

  it('drops the host 0x80000026 and keeps every unrelated leaf as it was', () => {
    const out = cpuidForVcpu(AMD_WITH_26, t, 0);
    expect(out.filter((e) => e.function === 0x8000_0026)).toEqual([]);
    const unrelated = (e: CpuidEntry) => ![1, 0xb, 0x8000_0008, 0x8000_001d, 0x8000_001e, 0x8000_0026].includes(e.function);
    expect(out.filter(unrelated)).toEqual(AMD_WITH_26.filter(unrelated));
  });

  it('sets CmpLegacy on multi-CPU packages so Linux 6.1 skips detect_ht()', () => {
    const noCmp = AMD.map((e) => (e.function === 0x8000_0001 ? { ...e, ecx: e.ecx & ~2 } : e));
    expect(cpuidOf(cpuidForVcpu(noCmp, shape('1n1l5c2t'), 0))(0x8000_0001).ecx & 2).toBe(2);
    expect(cpuidOf(cpuidForVcpu(noCmp, flatTopology(1), 0))(0x8000_0001).ecx & 2).toBe(0);
  });

  it('sets TopologyExtensions when the host has the AMD cache leaf', () => {
    const noTopoext = AMD.map((e) => (e.function === 0x8000_0001 ? { ...e, ecx: e.ecx & ~(1 << 22) } : e));
    expect(cpuidOf(cpuidForVcpu(noTopoext, t, 0))(0x8000_0001).ecx & (1 << 22)).toBe(1 << 22);
  });

  it('writes Intel leaf 4 sharing and cores per package, and 0x1F like 0xB', () => {
    const c = cpuidOf(cpuidForVcpu(INTEL, t, 13));
    expect([0, 1, 2, 3].map((i) => c(4, i).eax)).toEqual([0x0c00_4121, 0x0c00_4122, 0x0c00_4143, 0x0c00_c163]);
    expect([0, 1, 2].map((i) => c(0x1f, i))).toEqual([0, 1, 2].map((i) => ({ ...c(0xb, i), function: 0x1f })));
    expect(c(0x8000_0008).ecx).toBe(0); // AMD-only field left alone on Intel
    expect(cpuidForVcpu(INTEL, t, 13).some((e) => e.function === 0x8000_001e)).toBe(false);
  });

  it('keeps the bare-metal meaning for flat topologies: APIC id = vCPU index', () => {
    for (let i = 0; i < 5; i++) {
      const c = cpuidOf(cpuidForVcpu(AMD, flatTopology(5), i));
      expect([bits(c(1).ebx, 24, 8), c(0xb, 0).edx, c(0x8000_001e).eax]).toEqual([i, i, i]);
    }
  });

  it('reads the vendor from leaf 0', () => {
    expect([cpuVendor(AMD), cpuVendor(INTEL), cpuVendor([])]).toEqual(['amd', 'intel', 'other']);
  });
});

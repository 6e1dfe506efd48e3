// Per-vCPU CPUID: the host's supported leaves, with the declared topology written into every
// leaf Linux reads topology from (6.1: amd.c/topology.c; 7.x: topology_amd.c/topology_ext.c;
// both: cacheinfo.c). APIC-id layout: see ../topology.ts.
import type { CpuidEntry } from '../kvm.ts';
import { apicLayout, cpuPlacement, vcpuCount, type Topology } from '../topology.ts';

/** kvm_cpuid_entry2.flags: the entry is selected by (function, index). */
export const KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 1;

const LEAF_EXT_TOPOLOGY = 0xb;
const LEAF_V2_EXT_TOPOLOGY = 0x1f;
const AMD_EXT_FEATURES = 0x8000_0001;
const AMD_SIZE_IDS = 0x8000_0008;
const AMD_CACHE_TOPOLOGY = 0x8000_001d;
const AMD_EXT_APIC_ID = 0x8000_001e;
/** AMD's own extended-topology leaf; Linux 7.x prefers it to 0xB, so it must not contradict us. */
const AMD_EXT_TOPOLOGY_V2 = 0x8000_0026;

const TOPOEXT = 1 << 22; // 0x80000001 ECX
const CMP_LEGACY = 1 << 1; // 0x80000001 ECX
const HTT = 1 << 28; // 0x1 EDX
const TSC_DEADLINE = 1 << 24; // 0x1 ECX
const HYPERVISOR = 1 << 31; // 0x1 ECX
// 0x7.0 ECX: 5-level paging. Hidden so guest page tables always have the 4 levels the host's
// page walk (page-walk.ts) reads.
const LA57 = 1 << 16;

// CPUID 0xB/0x1F ECX[15:8] level types.
const LEVEL_SMT = 1;
const LEVEL_CORE = 2;

export type CpuVendor = 'amd' | 'intel' | 'other';

export function cpuVendor(supported: readonly CpuidEntry[]): CpuVendor {
  const l0 = supported.find((e) => e.function === 0);
  if (!l0) return 'other';
  const id = [l0.ebx, l0.edx, l0.ecx].map((r) => String.fromCharCode(r & 0xff, (r >>> 8) & 0xff, (r >>> 16) & 0xff, r >>> 24)).join('');
  if (id === 'AuthenticAMD' || id === 'HygonGenuine') return 'amd';
  if (id === 'GenuineIntel') return 'intel';
  return 'other';
}

const u32 = (n: number): number => n >>> 0;
const setBits = (reg: number, lo: number, width: number, value: number): number => {
  const mask = (width >= 32 ? 0xffff_ffff : (1 << width) - 1) * 2 ** lo;
  return u32((reg & ~mask) | ((value * 2 ** lo) & mask));
};

/** What one vCPU's topology leaves encode. */
interface VcpuTopo {
  apicId: number;
  coreId: number;
  node: number;
  threads: number;
  /** Logical processors in this vCPU's package (= NUMA node). */
  perPackage: number;
  smtShift: number;
  llcShift: number;
  pkgShift: number;
}

function vcpuTopo(t: Topology, vcpuIndex: number): VcpuTopo {
  const p = cpuPlacement(t, vcpuIndex);
  const l = apicLayout(t);
  return {
    apicId: p.apicId,
    coreId: p.coreId,
    node: p.node,
    threads: t.threads_per_core,
    perPackage: vcpuCount(t) / t.numa_nodes,
    smtShift: l.smtShift,
    llcShift: l.llcShift,
    pkgShift: l.pkgShift,
  };
}

/**
 * CPUID for vCPU `vcpuIndex` of `topology` (a VM that only knows its vCPU count passes
 * flatTopology(n)). KVM makes a vCPU's APIC id its vcpu id: create the vCPU with
 * cpuPlacement(topology, vcpuIndex).apicId so the two agree.
 */
export interface CpuidOptions {
  /** The in-kernel LAPIC emulates the TSC-deadline timer (KVM_CAP_TSC_DEADLINE_TIMER). */
  tscDeadline?: boolean;
}

export function cpuidForVcpu(supported: readonly CpuidEntry[], topology: Topology, vcpuIndex: number, opts: CpuidOptions = {}): CpuidEntry[] {
  const v = vcpuTopo(topology, vcpuIndex);
  const vendor = cpuVendor(supported);
  const maxBasic = supported.find((e) => e.function === 0)?.eax ?? 0;
  const maxExt = supported.find((e) => e.function === 0x8000_0000)?.eax ?? 0;
  const hasAmdCacheLeaf = supported.some((e) => e.function === AMD_CACHE_TOPOLOGY && (e.eax & 0x1f) !== 0);

  // No cache leaf on the host (an emulated CPU): describe a cache hierarchy ourselves, so the
  // guest still sees one L3 per declared LLC.
  const synthesizeCaches = vendor === 'amd' && !hasAmdCacheLeaf;
  // Leaves above the guest's maximum extended leaf read as zeros: raise it to cover ours.
  const guestMaxExt = synthesizeCaches ? Math.max(maxExt, AMD_EXT_APIC_ID) : maxExt;
  const out: CpuidEntry[] = [];
  for (const e of supported) {
    const f = e.function;
    if (synthesizeCaches && f === AMD_CACHE_TOPOLOGY) continue;
    if (f === LEAF_EXT_TOPOLOGY || f === LEAF_V2_EXT_TOPOLOGY || f === AMD_EXT_TOPOLOGY_V2 || f === AMD_EXT_APIC_ID) continue;
    const x = { ...e };
    if (f === 0x8000_0000) x.eax = u32(guestMaxExt);
    else if (f === 1) patchLeaf1(x, v, opts);
    else if (f === 7 && e.index === 0) x.ecx = u32(x.ecx & ~LA57);
    else if (f === 4) patchCacheSharing(x, v, true);
    else if (vendor === 'amd' && f === AMD_CACHE_TOPOLOGY) patchCacheSharing(x, v, false);
    else if (vendor === 'amd' && f === AMD_SIZE_IDS) x.ecx = setBits(setBits(x.ecx, 0, 8, v.perPackage - 1), 12, 4, v.pkgShift);
    else if (vendor === 'amd' && f === AMD_EXT_FEATURES) patchAmdFeatures(x, v, hasAmdCacheLeaf || synthesizeCaches);
    if (synthesizeCaches && (f === 1 || f === AMD_EXT_FEATURES)) x.eax = ZEN2_SIGNATURE;
    out.push(x);
  }
  if (synthesizeCaches) {
    for (const c of syntheticAmdCaches()) {
      patchCacheSharing(c, v, false);
      out.push(c);
    }
  }
  if (maxBasic >= LEAF_EXT_TOPOLOGY) out.push(...extTopologyLeaf(LEAF_EXT_TOPOLOGY, v));
  if (maxBasic >= LEAF_V2_EXT_TOPOLOGY) out.push(...extTopologyLeaf(LEAF_V2_EXT_TOPOLOGY, v));
  if (vendor === 'amd' && guestMaxExt >= AMD_EXT_APIC_ID) out.push(amdExtApicId(v));
  return out;
}

// ECX[31] says "hypervisor": Linux then reads KVM's leaves (0x40000000..) and takes the TSC rate
// from kvmclock, and with ECX[24] uses the TSC-deadline timer: no timer calibration against the
// PIT, which fails at random when the host is slow (an emulated CPU, a loaded machine) and leaves
// the guest without a LAPIC timer.
function patchLeaf1(x: CpuidEntry, v: VcpuTopo, opts: CpuidOptions): void {
  x.ecx = u32(x.ecx | HYPERVISOR | (opts.tscDeadline ? TSC_DEADLINE : 0));
  // EBX[31:24] initial APIC id; EBX[23:16] addressable logical ids per package (Linux takes
  // get_count_order of it); EDX[28] HTT: more than one logical processor per package.
  const addressable = Math.min(2 ** v.pkgShift, 0xff);
  x.ebx = setBits(setBits(x.ebx, 24, 8, v.apicId & 0xff), 16, 8, addressable);
  x.edx = v.perPackage > 1 ? u32(x.edx | HTT) : u32(x.edx & ~HTT);
}

// TopologyExtensions gates 0x8000001D/0x8000001E (SMT siblings on AMD need them). CmpLegacy, as on
// every multi-core AMD part, keeps Linux 6.1's detect_ht() from recomputing siblings out of leaf 1.
function patchAmdFeatures(x: CpuidEntry, v: VcpuTopo, hasCacheLeaf: boolean): void {
  if (hasCacheLeaf) x.ecx = u32(x.ecx | TOPOEXT);
  if (v.perPackage > 1) x.ecx = u32(x.ecx | CMP_LEGACY);
}

// Intel 0x4 and AMD 0x8000001D share EAX[25:14] (addressable ids sharing this cache, minus 1):
// Linux shifts the APIC id right by its count order to get the cache id, and builds the L3
// shared_cpu_map from it. L1/L2 belong to one core, L3 to one LLC. 0x4 also has EAX[31:26]
// (addressable core ids per package, minus 1).
function patchCacheSharing(x: CpuidEntry, v: VcpuTopo, intel: boolean): void {
  const type = x.eax & 0x1f;
  if (type === 0) return;
  const level = (x.eax >>> 5) & 0x7;
  const shift = level >= 3 ? v.llcShift : v.smtShift;
  x.eax = setBits(x.eax, 14, 12, 2 ** shift - 1);
  if (intel) x.eax = setBits(x.eax, 26, 6, Math.min(2 ** (v.pkgShift - v.smtShift), 64) - 1);
}

// Linux takes the AMD LLC id from 0x8000001D only on family 0x17 and later (older families: the
// node). An emulated CPU without cache leaves (QEMU's reports family 0xf) therefore also gets a
// Zen 2 signature, family 0x17 model 0x31, so the synthesized L3 sharing is what Linux uses.
export const ZEN2_SIGNATURE = 0x0083_0f10;

// 0x8000001D subleaves for a plain hierarchy: 32 KiB L1d and L1i, 512 KiB L2 (8-way), 16 MiB L3
// (16-way), 64-byte lines, then the end marker. EAX: type | level << 5 | self-initializing;
// EBX: line - 1 | (ways - 1) << 22; ECX: sets - 1. Sharing (EAX[25:14]) is patched per vCPU.
export function syntheticAmdCaches(): CpuidEntry[] {
  const cache = (index: number, type: number, level: number, kib: number, ways: number): CpuidEntry => ({
    function: AMD_CACHE_TOPOLOGY,
    index,
    flags: KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
    eax: u32(type | (level << 5) | (1 << 8)),
    ebx: u32((64 - 1) | ((ways - 1) << 22)),
    ecx: u32((kib * 1024) / (64 * ways) - 1),
    edx: 0,
  });
  return [
    cache(0, 1, 1, 32, 8),
    cache(1, 2, 1, 32, 8),
    cache(2, 3, 2, 512, 8),
    cache(3, 3, 3, 16 * 1024, 16),
    { function: AMD_CACHE_TOPOLOGY, index: 4, flags: KVM_CPUID_FLAG_SIGNIFCANT_INDEX, eax: 0, ebx: 0, ecx: 0, edx: 0 },
  ];
}

// 0xB / 0x1F: subleaf 0 = SMT level, 1 = core level (shift to the package), 2 = end. Both Linux
// 6.1 (detect_extended_topology) and 7.x (topo_subleaf) read shifts and counts from here.
function extTopologyLeaf(fn: number, v: VcpuTopo): CpuidEntry[] {
  const sub = (index: number, shift: number, count: number, type: number): CpuidEntry => ({
    function: fn,
    index,
    flags: KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
    eax: shift,
    ebx: count,
    ecx: u32((type << 8) | index),
    edx: u32(v.apicId),
  });
  return [sub(0, v.smtShift, v.threads, LEVEL_SMT), sub(1, v.pkgShift, v.perPackage, LEVEL_CORE), sub(2, 0, 0, 0)];
}

// 0x8000001E: EAX extended APIC id; EBX[7:0] core id within the package (6.1 reads it as core_id
// when there is no 0xB), EBX[15:8] threads per core - 1 (6.1's smp_num_siblings); ECX[7:0] node
// id (6.1's die_id), ECX[10:8] nodes per package - 1 (0: one node per package, no AMD_DCM).
function amdExtApicId(v: VcpuTopo): CpuidEntry {
  return {
    function: AMD_EXT_APIC_ID,
    index: 0,
    flags: 0,
    eax: u32(v.apicId),
    ebx: u32(((v.threads - 1) << 8) | (v.coreId & 0xff)),
    ecx: u32(v.node & 0xff),
    edx: 0,
  };
}

// Declared CPU topology of a VM, and where each vCPU sits in it.
//
// APIC-id mapping: one package (socket) per NUMA node. Within an APIC id, from the low bits up:
//   thread  : smtBits  = ceil(log2(threads_per_core))
//   core    : coreBits = ceil(log2(cores_per_llc))      (core within its LLC)
//   LLC     : llcBits  = ceil(log2(llcs / numa_nodes))  (LLC within its node)
//   package : the NUMA node
// so every SMT core, LLC and package is an aligned power-of-two block of APIC ids: Linux derives
// siblings, core_id, LLC id and package id by shifting the APIC id (CPUID 0xB/0x8000001D/0x8000001E).
// Counts that are not powers of two leave holes in APIC-id space, as on real hardware.

export interface Topology {
  numa_nodes: number;
  /** Total LLCs in the VM, split evenly across nodes. */
  llcs: number;
  cores_per_llc: number;
  threads_per_core: number;
  /** numa_nodes x numa_nodes SLIT distances; default 10 on the diagonal, 20 elsewhere. */
  distances?: number[][];
}

export interface TopologyProblem {
  /** Field path, e.g. `distances[0][1]`; empty for the topology as a whole. */
  path: string;
  message: string;
}

export interface CpuPlacement {
  vcpu: number;
  node: number;
  /** Global LLC index (LLCs of node n are n*llcsPerNode ..). */
  llc: number;
  /** Core within its LLC. */
  core: number;
  /** Thread within its core. */
  thread: number;
  apicId: number;
  /** Package-relative core id, as Linux reports it in topology/core_id. */
  coreId: number;
}

export interface ApicLayout {
  smtBits: number;
  coreBits: number;
  llcBits: number;
  /** APIC-id shift from a thread to its core (= smtBits). */
  smtShift: number;
  /** APIC-id shift from a thread to its LLC. */
  llcShift: number;
  /** APIC-id shift from a thread to its package (NUMA node). */
  pkgShift: number;
}

/** The highest id an xAPIC (8-bit) id holds, 255 being the broadcast id; also where Linux guests
 * stop: past it Linux needs interrupt remapping or the extended-destination-id feature, and KVM's
 * in-kernel IOAPIC routes to 8-bit destinations only. Higher ids get MADT/SRAT x2APIC entries. */
export const MAX_XAPIC_ID = 254;
/** The highest APIC id any guest can get: KVM names a vCPU by its APIC id, below KVM_MAX_VCPU_IDS
 * (4096 since Linux 5.16; KVM_CAP_MAX_VCPU_ID tells the running kernel's). */
export const MAX_X2APIC_ID = 4095;
/** The most vCPUs one VM gets: x86 KVM's KVM_MAX_VCPUS without MAXSMP, and what the vCPU pool
 * sizes its threads for (each vCPU holds one thread for the VM's life). */
export const MAX_VCPUS = 1024;
/** SLIT: 10 means local; Linux rejects other entries <= 10; 255 means unreachable. */
export const LOCAL_DISTANCE = 10;
export const REMOTE_DISTANCE = 20;

const FIELDS = ['numa_nodes', 'llcs', 'cores_per_llc', 'threads_per_core'] as const;

export function formatTopology(t: Topology): string {
  return `${t.numa_nodes}n${t.llcs}l${t.cores_per_llc}c${t.threads_per_core}t`;
}

/** The topology of a VM that only knows its vCPU count: one node, one LLC, no SMT. */
export function flatTopology(vcpus: number): Topology {
  return { numa_nodes: 1, llcs: 1, cores_per_llc: vcpus, threads_per_core: 1 };
}

export function vcpuCount(t: Topology): number {
  return t.llcs * t.cores_per_llc * t.threads_per_core;
}

/**
 * Everything the guest would reject or misread; an empty list means usable. `maxApicId` is the
 * highest APIC id the guest starts: MAX_XAPIC_ID for Linux (the default), MAX_X2APIC_ID for
 * bare-metal guests, which read their id from CPUID 0xB.
 */
export function validateTopology(t: Topology, maxApicId = MAX_XAPIC_ID): TopologyProblem[] {
  const problems: TopologyProblem[] = [];
  for (const f of FIELDS) {
    const v = t[f];
    if (!Number.isInteger(v) || v < 1) problems.push({ path: f, message: `must be a positive integer (got ${String(v)})` });
  }
  if (problems.length > 0) return problems;
  if (t.llcs % t.numa_nodes !== 0) {
    problems.push({ path: 'llcs', message: `${t.llcs} LLCs cannot be split evenly across ${t.numa_nodes} NUMA nodes` });
  } else {
    const perNode = vcpuCount(t) / t.numa_nodes;
    // CPUID 0x80000008 ECX[7:0] counts the threads of a package in 8 bits.
    if (perNode > 256) problems.push({ path: '', message: `${perNode} vCPUs per NUMA node; at most 256 fit one package` });
    if (vcpuCount(t) > MAX_VCPUS) problems.push({ path: '', message: `${vcpuCount(t)} vCPUs; a VM has at most ${MAX_VCPUS} (one thread each)` });
    const maxApic = highestApicId(t);
    if (maxApic > maxApicId) {
      const who = maxApicId === MAX_XAPIC_ID ? 'Linux guests without interrupt remapping only start CPUs' : 'KVM names vCPUs';
      problems.push({ path: '', message: `highest APIC id would be ${maxApic} (power-of-two padding per level); ${who} with APIC ids up to ${maxApicId}` });
    }
  }
  if (t.distances !== undefined) problems.push(...validateDistances(t.distances, t.numa_nodes));
  return problems;
}

// Linux (drivers/acpi/numa/srat.c slit_valid) wants exactly 10 on the diagonal and > 10 elsewhere;
// the SLIT holds bytes and 255 means "unreachable", which the scheduler cannot use. Asymmetric
// matrices are accepted by ACPI and Linux, so they are allowed here too.
function validateDistances(d: unknown, n: number): TopologyProblem[] {
  if (!Array.isArray(d) || d.length !== n) {
    return [{ path: 'distances', message: `must be a ${n}x${n} matrix (one row per NUMA node)` }];
  }
  const problems: TopologyProblem[] = [];
  d.forEach((row: unknown, i) => {
    if (!Array.isArray(row) || row.length !== n) {
      problems.push({ path: `distances[${i}]`, message: `must have ${n} entries` });
      return;
    }
    row.forEach((v: unknown, j) => {
      const path = `distances[${i}][${j}]`;
      if (typeof v !== 'number' || !Number.isInteger(v)) problems.push({ path, message: `must be an integer (got ${String(v)})` });
      else if (i === j && v !== LOCAL_DISTANCE) problems.push({ path, message: `must be ${LOCAL_DISTANCE} (local distance), got ${v}` });
      else if (i !== j && (v < LOCAL_DISTANCE + 1 || v > 254)) problems.push({ path, message: `must be between 11 and 254, got ${v}` });
    });
  });
  return problems;
}

export function numaDistances(t: Topology): number[][] {
  if (t.distances) return t.distances.map((row) => [...row]);
  return Array.from({ length: t.numa_nodes }, (_, i) => Array.from({ length: t.numa_nodes }, (_, j) => (i === j ? LOCAL_DISTANCE : REMOTE_DISTANCE)));
}

export function ceilLog2(n: number): number {
  let bits = 0;
  while (1 << bits < n) bits++;
  return bits;
}

export function apicLayout(t: Topology): ApicLayout {
  if (t.llcs % t.numa_nodes !== 0) throw new RangeError(`topology ${formatTopology(t)}: LLCs do not split evenly across nodes`);
  const smtBits = ceilLog2(t.threads_per_core);
  const coreBits = ceilLog2(t.cores_per_llc);
  const llcBits = ceilLog2(t.llcs / t.numa_nodes);
  return { smtBits, coreBits, llcBits, smtShift: smtBits, llcShift: smtBits + coreBits, pkgShift: smtBits + coreBits + llcBits };
}

/** The APIC id of the topology's last vCPU, its highest. */
export function highestApicId(t: Topology): number {
  return apicIdOf(t, t.numa_nodes - 1, t.llcs / t.numa_nodes - 1, t.cores_per_llc - 1, t.threads_per_core - 1);
}

function apicIdOf(t: Topology, node: number, llcInNode: number, core: number, thread: number): number {
  const l = apicLayout(t);
  return node * 2 ** l.pkgShift + (llcInNode << l.llcShift) + (core << l.smtShift) + thread;
}

/** vCPUs are numbered thread-fastest, then core, then LLC; LLCs are grouped by node. */
export function cpuPlacement(t: Topology, vcpuIndex: number): CpuPlacement {
  const n = vcpuCount(t);
  if (!Number.isInteger(vcpuIndex) || vcpuIndex < 0 || vcpuIndex >= n) {
    throw new RangeError(`vCPU ${vcpuIndex} is outside topology ${formatTopology(t)} (${n} vCPUs)`);
  }
  const thread = vcpuIndex % t.threads_per_core;
  const core = Math.floor(vcpuIndex / t.threads_per_core) % t.cores_per_llc;
  const llc = Math.floor(vcpuIndex / (t.threads_per_core * t.cores_per_llc));
  const llcsPerNode = t.llcs / t.numa_nodes;
  const node = Math.floor(llc / llcsPerNode);
  const llcInNode = llc % llcsPerNode;
  const l = apicLayout(t);
  return {
    vcpu: vcpuIndex,
    node,
    llc,
    core,
    thread,
    apicId: apicIdOf(t, node, llcInNode, core, thread),
    coreId: (llcInNode << l.coreBits) + core,
  };
}

export function allPlacements(t: Topology): CpuPlacement[] {
  return Array.from({ length: vcpuCount(t) }, (_, i) => cpuPlacement(t, i));
}

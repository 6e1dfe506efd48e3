// SRAT (ACPI 6.5 §5.2.16) and SLIT (§5.2.17). Proximity domain = NUMA node index; CPUs are listed
// in vCPU order (node 0 first), so Linux maps proximity domain n to node n.
import { allPlacements, MAX_XAPIC_ID, numaDistances, type Topology } from '../../topology.ts';
import { ByteWriter, sdt } from './sdt.ts';
import type { GuestPhysAddr } from '../../guest-address.ts';

export interface MemoryRange {
  node: number;
  gpa: GuestPhysAddr;
  size: number;
}

const ENABLED = 1;

export function srat(t: Topology, memory: readonly MemoryRange[]): Uint8Array {
  const w = new ByteWriter().u32(1).u64(0); // reserved (1 for backward compatibility), reserved
  for (const p of allPlacements(t)) {
    if (p.apicId <= MAX_XAPIC_ID) {
      // Processor Local APIC/SAPIC Affinity: domain[7:0], APIC id, flags, SAPIC EID, domain[31:8], clock domain.
      w.u8(0)
        .u8(16)
        .u8(p.node & 0xff)
        .u8(p.apicId)
        .u32(ENABLED)
        .u8(0)
        .u8((p.node >>> 8) & 0xff)
        .u8((p.node >>> 16) & 0xff)
        .u8(p.node >>> 24)
        .u32(0);
    } else {
      // Processor Local x2APIC Affinity.
      w.u8(2).u8(24).u16(0).u32(p.node).u32(p.apicId).u32(ENABLED).u32(0).u32(0);
    }
  }
  for (const m of memory) {
    if (!Number.isInteger(m.node) || m.node < 0 || m.node >= t.numa_nodes) {
      throw new RangeError(`memory range 0x${m.gpa.toString(16)}: node ${m.node} is not a node of a ${t.numa_nodes}-node topology`);
    }
    // Memory Affinity: domain, reserved, base, length, reserved, flags, reserved.
    w.u8(1).u8(40).u32(m.node).u16(0).u64(m.gpa).u64(m.size).u32(0).u32(ENABLED).u64(0);
  }
  return sdt({ signature: 'SRAT', revision: 3 }, w.toBytes());
}

export function slit(t: Topology): Uint8Array {
  const d = numaDistances(t);
  const w = new ByteWriter().u64(d.length);
  for (const row of d) for (const v of row) w.u8(v);
  return sdt({ signature: 'SLIT', revision: 1 }, w.toBytes());
}

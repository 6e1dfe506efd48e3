// MADT (ACPI 6.5 §5.2.12): one local APIC per vCPU, in vCPU order (Linux numbers CPUs in MADT
// order, boot CPU first), the IOAPIC, and ISA interrupt overrides.
import { allPlacements, MAX_XAPIC_ID, type Topology } from '../../topology.ts';
import { ByteWriter, sdt } from './sdt.ts';

export const LOCAL_APIC_ADDRESS = 0xfee0_0000;
export const IOAPIC_ADDRESS = 0xfec0_0000;
export const IOAPIC_ID = 0;
export const MADT_REVISION = 5;

const PCAT_COMPAT = 1; // a dual 8259 is present (KVM's in-kernel PIC)
const ENABLED = 1;
// MPS INTI flags: polarity bits [1:0], trigger bits [3:2].
const ACTIVE_HIGH = 0b01;
const LEVEL = 0b11 << 2;

export interface MadtOptions {
  /** ISA IRQ the ACPI SCI uses; gets a level/active-high override. Omit to declare no SCI override. */
  sciIrq?: number;
}

export function madt(t: Topology, o: MadtOptions = {}): Uint8Array {
  const w = new ByteWriter().u32(LOCAL_APIC_ADDRESS).u32(PCAT_COMPAT);
  let needX2apicNmi = false;
  for (const p of allPlacements(t)) {
    if (p.apicId <= MAX_XAPIC_ID) {
      w.u8(0).u8(8).u8(p.vcpu).u8(p.apicId).u32(ENABLED); // Processor Local APIC
    } else {
      w.u8(9).u8(16).u16(0).u32(p.apicId).u32(ENABLED).u32(p.vcpu); // Processor Local x2APIC
      needX2apicNmi = true;
    }
  }
  w.u8(1).u8(12).u8(IOAPIC_ID).u8(0).u32(IOAPIC_ADDRESS).u32(0); // I/O APIC, GSI base 0
  // No IRQ0 -> GSI 2 override (PC firmware's usual one): KVM's default GSI routing is the identity,
  // so the in-kernel PIT arrives on IOAPIC pin 0; an override sends Linux looking at pin 2.
  if (o.sciIrq !== undefined)
    w.u8(2)
      .u8(10)
      .u8(0)
      .u8(o.sciIrq)
      .u32(o.sciIrq)
      .u16(ACTIVE_HIGH | LEVEL);
  w.u8(4).u8(6).u8(0xff).u16(0).u8(1); // Local APIC NMI on LINT1, all processors
  if (needX2apicNmi) w.u8(0xa).u8(12).u16(0).u32(0xffff_ffff).u8(1).zeros(3); // Local x2APIC NMI on LINT1
  return sdt({ signature: 'APIC', revision: MADT_REVISION }, w.toBytes());
}

// All ACPI tables of a VM, laid out in one blob for a given guest-physical base. The blob must
// sit in guest RAM that the e820 map marks ACPI (type 3) or reserved, and the SRAT memory ranges
// must cover all e820 RAM (Linux drops NUMA if more than 1 MiB is left out).
import { formatTopology, validateTopology, type Topology } from '../../topology.ts';
import { dsdt, type VirtioMmioDevice } from './dsdt.ts';
import { DEFAULT_SCI_IRQ, FACS_SIZE, facs, fadt, FADT_SIZE } from './fadt.ts';
import { madt } from './madt.ts';
import { BIOS_AREA_END, BIOS_AREA_START, rsdp, RSDP_SIZE, xsdt } from './rsdp.ts';
import { slit, srat, type MemoryRange } from './srat.ts';
import { SDT_HEADER_SIZE } from './sdt.ts';
import { VmmConfigError } from '../../errors.ts';
import { toGuestPhys, type GuestPhysAddr } from '../../guest-address.ts';

export interface AcpiConfig {
  topology: Topology;
  memoryLayout: MemoryRange[];
  virtioMmio?: VirtioMmioDevice[];
  sciIrq?: number;
  pm1aEventPort?: number;
  pm1aControlPort?: number;
  /** Declare an i8042 to Linux (default no). */
  i8042?: boolean;
  /** Declare a CMOS RTC to Linux (default no). */
  cmosRtc?: boolean;
}

export interface AcpiTableLocation {
  signature: string;
  offset: number;
  gpa: GuestPhysAddr;
  length: number;
}

export interface AcpiTables {
  bytes: Uint8Array;
  baseGpa: GuestPhysAddr;
  rsdpOffset: number;
  /** Give this to Linux as boot_params.acpi_rsdp_addr. */
  rsdpGpa: GuestPhysAddr;
  /** A copy of the RSDP: it only points at the XSDT, so it may also be copied into 0xE0000-0xFFFFF. */
  rsdp: Uint8Array;
  xsdtGpa: GuestPhysAddr;
  /** Every table in the blob, RSDP and FACS included. */
  tables: AcpiTableLocation[];
}

const align = (n: number, a: number): number => Math.ceil(n / a) * a;

export function buildAcpiTables(config: AcpiConfig, baseGpa: GuestPhysAddr): AcpiTables {
  const { topology: t } = config;
  const problems = validateTopology(t);
  if (problems.length > 0) {
    throw new VmmConfigError(`topology ${formatTopology(t)}: ${problems.map((p) => `${p.path || 'topology'}: ${p.message}`).join('; ')}`);
  }
  toGuestPhys(baseGpa); // a GuestAddressError unless it is one
  const sciIrq = config.sciIrq ?? DEFAULT_SCI_IRQ;

  // Position-independent tables first; then place everything and build the pointer tables.
  const fixed: Array<[string, Uint8Array]> = [
    ['DSDT', dsdt(config.virtioMmio ?? [])],
    ['APIC', madt(t, { sciIrq })],
    ['SRAT', srat(t, config.memoryLayout)],
    ['SLIT', slit(t)],
  ];
  const xsdtEntries = ['FACP', 'APIC', 'SRAT', 'SLIT'];
  const sizes: Array<[string, number, number]> = [
    ['RSDP', RSDP_SIZE, 16],
    ['XSDT', SDT_HEADER_SIZE + 8 * xsdtEntries.length, 8],
    ['FACP', FADT_SIZE, 8],
    ['FACS', FACS_SIZE, 64],
    ...fixed.map(([sig, b]): [string, number, number] => [sig, b.length, 8]),
  ];
  const gpa = new Map<string, GuestPhysAddr>();
  let end = baseGpa;
  for (const [sig, size, a] of sizes) {
    const at = align(end, a);
    gpa.set(sig, at);
    end = at + size;
  }
  const inBiosArea = baseGpa >= BIOS_AREA_START && baseGpa < BIOS_AREA_END;
  if (inBiosArea && end > BIOS_AREA_END) {
    throw new RangeError(`ACPI tables at 0x${baseGpa.toString(16)} need ${end - baseGpa} bytes: they run past the BIOS area's end (0x100000)`);
  }
  const at = (sig: string): GuestPhysAddr => gpa.get(sig)!;

  const built = new Map<string, Uint8Array>([
    ['RSDP', rsdp(at('XSDT'))],
    ['XSDT', xsdt(xsdtEntries.map(at))],
    [
      'FACP',
      fadt({
        dsdtGpa: at('DSDT'),
        facsGpa: at('FACS'),
        sciIrq,
        pm1aEventPort: config.pm1aEventPort,
        pm1aControlPort: config.pm1aControlPort,
        i8042: config.i8042,
        cmosRtc: config.cmosRtc,
      }),
    ],
    ['FACS', facs()],
    ...fixed,
  ]);
  const bytes = new Uint8Array(end - baseGpa);
  const tables: AcpiTableLocation[] = [];
  for (const [sig, b] of built) {
    const offset = at(sig) - baseGpa;
    bytes.set(b, offset);
    tables.push({ signature: sig, offset, gpa: at(sig), length: b.length });
  }
  const rsdpOffset = at('RSDP') - baseGpa;
  return {
    bytes,
    baseGpa,
    rsdpOffset,
    rsdpGpa: at('RSDP'),
    rsdp: bytes.slice(rsdpOffset, rsdpOffset + RSDP_SIZE),
    xsdtGpa: at('XSDT'),
    tables,
  };
}

export { BIOS_AREA_END, BIOS_AREA_START } from './rsdp.ts';
export { S5_SLP_TYP, VIRTIO_MMIO_HID, type VirtioMmioDevice } from './dsdt.ts';
export { DEFAULT_PM1A_CNT_PORT, DEFAULT_PM1A_EVT_PORT, DEFAULT_SCI_IRQ, PM1_CNT_SLP_EN, PM1_CNT_SLP_TYP_SHIFT } from './fadt.ts';
export { IOAPIC_ADDRESS, LOCAL_APIC_ADDRESS } from './madt.ts';
export type { MemoryRange } from './srat.ts';

import { describe, expect, it } from 'vitest';
import { shape } from '../../topology.testing.ts';
import { facs, fadt, FADT_SIZE } from './fadt.ts';
import { buildAcpiTables, type AcpiConfig } from './index.ts';
import { madt } from './madt.ts';
import { rsdp } from './rsdp.ts';
import { sdt, sum8 } from './sdt.ts';
import { slit, srat } from './srat.ts';

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
const ascii = (b: Uint8Array, at: number, n: number) => String.fromCharCode(...b.subarray(at, at + n));

/** Subtables after the fixed part of a table: [type, bytes]. */
function subtables(t: Uint8Array, start: number): Array<[number, Uint8Array]> {
  const out: Array<[number, Uint8Array]> = [];
  for (let at = start; at < t.length; at += t[at + 1]!) out.push([t[at]!, t.subarray(at, at + t[at + 1]!)]);
  return out;
}

const TWO_NODES: AcpiConfig = {
  topology: shape('2n2l2c2t'),
  memoryLayout: [
    { node: 0, gpa: 0, size: 0x2000_0000 },
    { node: 1, gpa: 0x2000_0000, size: 0x2000_0000 },
  ],
  virtioMmio: [{ gpa: 0xd000_0000, size: 0x200, irq: 5 }],
};

describe('SDT header', () => {
  it('fills signature, length, revision, OEM fields and a zero-sum checksum', () => {
    const t = sdt({ signature: 'TEST', revision: 3 }, Uint8Array.of(1, 2, 3));
    expect(t.length).toBe(39);
    expect(ascii(t, 0, 4)).toBe('TEST');
    expect(view(t).getUint32(4, true)).toBe(39);
    expect(t[8]).toBe(3);
    expect(ascii(t, 10, 6)).toBe('SCHDVM');
    expect(ascii(t, 28, 4)).toBe('SVMM');
    expect(sum8(t)).toBe(0);
  });
});

describe('RSDP', () => {
  it('is a 36-byte revision-2 pointer to the XSDT with both checksums', () => {
    const r = rsdp(0x1234_5678_9a);
    expect(r.length).toBe(36);
    expect(ascii(r, 0, 8)).toBe('RSD PTR ');
    expect(r[15]).toBe(2);
    expect(view(r).getUint32(16, true)).toBe(0);
    expect(view(r).getUint32(20, true)).toBe(36);
    expect(view(r).getBigUint64(24, true)).toBe(0x1234_5678_9an);
    expect(sum8(r, 0, 20)).toBe(0);
    expect(sum8(r)).toBe(0);
  });
});

describe('FADT and FACS', () => {
  const f = fadt({ dsdtGpa: 0xe0200, facsGpa: 0xe01c0 });

  it('is a 276-byte revision-6 FADT pointing at the DSDT and FACS (32- and 64-bit)', () => {
    expect(f.length).toBe(FADT_SIZE);
    expect(ascii(f, 0, 4)).toBe('FACP');
    expect([view(f).getUint32(36, true), view(f).getUint32(40, true)]).toEqual([0xe01c0, 0xe0200]);
    expect([view(f).getBigUint64(132, true), view(f).getBigUint64(140, true)]).toEqual([0xe01c0n, 0xe0200n]);
    expect(sum8(f)).toBe(0);
  });

  it('declares SCI 9, PM1a blocks, no PM timer, no SMI port, no reset register, not hardware-reduced', () => {
    const v = view(f);
    expect(v.getUint16(46, true)).toBe(9);
    expect(v.getUint32(48, true)).toBe(0);
    expect([v.getUint32(56, true), v.getUint32(64, true), v.getUint32(76, true)]).toEqual([0x600, 0x604, 0]);
    expect([f[88], f[89], f[91]]).toEqual([4, 2, 0]);
    expect(v.getUint32(112, true)).toBe(0x35); // WBINVD | PROC_C1 | PWR_BUTTON | SLP_BUTTON
    expect(v.getUint16(109, true)).toBe(0x24); // no 8042, no VGA, no CMOS RTC
    expect([...f.subarray(148, 160)]).toEqual([1, 32, 0, 0, 0x00, 0x06, 0, 0, 0, 0, 0, 0]); // X_PM1a_EVT_BLK
    expect([...f.subarray(172, 184)]).toEqual([1, 16, 0, 0, 0x04, 0x06, 0, 0, 0, 0, 0, 0]); // X_PM1a_CNT_BLK
  });

  it('can declare the i8042 and CMOS RTC', () => {
    expect(view(fadt({ dsdtGpa: 0, facsGpa: 0, i8042: true, cmosRtc: true })).getUint16(109, true)).toBe(0x06);
  });

  it('builds a 64-byte FACS', () => {
    const x = facs();
    expect([x.length, ascii(x, 0, 4), view(x).getUint32(4, true), x[32]]).toEqual([64, 'FACS', 64, 2]);
  });
});

describe('MADT', () => {
  it('lists one local APIC per vCPU in vCPU order, the IOAPIC, the SCI override (no IRQ0 override) and LINT1 NMI', () => {
    const m = madt(shape('1n2l3c1t'), { sciIrq: 9 });
    expect(sum8(m)).toBe(0);
    expect([view(m).getUint32(36, true), view(m).getUint32(40, true)]).toEqual([0xfee0_0000, 1]);
    const subs = subtables(m, 44);
    expect(subs.filter(([t]) => t === 0).map(([, b]) => [b[2], b[3], view(b).getUint32(4, true)])).toEqual([
      [0, 0, 1],
      [1, 1, 1],
      [2, 2, 1],
      [3, 4, 1],
      [4, 5, 1],
      [5, 6, 1],
    ]);
    const [ioapic] = subs.filter(([t]) => t === 1).map(([, b]) => [b[2], view(b).getUint32(4, true), view(b).getUint32(8, true)]);
    expect(ioapic).toEqual([0, 0xfec0_0000, 0]);
    expect(subs.filter(([t]) => t === 2).map(([, b]) => [b[2], b[3], view(b).getUint32(4, true), view(b).getUint16(8, true)])).toEqual([
      [0, 9, 9, 0x0d], // the SCI only: IRQ0 keeps identity routing (KVM default)
    ]);
    expect(subs.filter(([t]) => t === 4).map(([, b]) => [...b])).toEqual([[4, 6, 0xff, 0, 0, 1]]);
    expect(subs.some(([t]) => t === 9 || t === 0xa)).toBe(false);
  });

  it('switches to x2APIC entries above APIC id 254', () => {
    const subs = subtables(madt({ numa_nodes: 1, llcs: 1, cores_per_llc: 256, threads_per_core: 1 }), 44);
    expect(subs.filter(([t]) => t === 0)).toHaveLength(255);
    expect(subs.filter(([t]) => t === 9).map(([, b]) => [b[1], view(b).getUint32(4, true), view(b).getUint32(8, true), view(b).getUint32(12, true)])).toEqual([[16, 255, 1, 255]]);
    expect(subs.filter(([t]) => t === 0xa).map(([, b]) => [...b])).toEqual([[0xa, 12, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0]]);
  });
});

describe('SRAT and SLIT', () => {
  it('gives every vCPU its node and every memory range its node', () => {
    const s = srat(TWO_NODES.topology, TWO_NODES.memoryLayout);
    expect(sum8(s)).toBe(0);
    expect(view(s).getUint32(36, true)).toBe(1);
    const subs = subtables(s, 48);
    expect(subs.filter(([t]) => t === 0).map(([, b]) => [b[1], b[3], b[2], view(b).getUint32(4, true)])).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((apic) => [16, apic, apic < 4 ? 0 : 1, 1]));
    expect(subs.filter(([t]) => t === 1).map(([, b]) => [b[1], view(b).getUint32(2, true), view(b).getBigUint64(8, true), view(b).getBigUint64(16, true), view(b).getUint32(28, true)])).toEqual([
      [40, 0, 0n, 0x2000_0000n, 1],
      [40, 1, 0x2000_0000n, 0x2000_0000n, 1],
    ]);
  });

  it('rejects memory on a node the topology does not have', () => {
    expect(() => srat(TWO_NODES.topology, [{ node: 2, gpa: 0x1000, size: 0x1000 }])).toThrow('node 2 is not a node of a 2-node topology');
  });

  it('writes the distance matrix row by row', () => {
    const t = {
      ...TWO_NODES.topology,
      distances: [
        [10, 21],
        [31, 10],
      ],
    };
    const s = slit(t);
    expect(sum8(s)).toBe(0);
    expect([view(s).getBigUint64(36, true), ...s.subarray(44)]).toEqual([2n, 10, 21, 31, 10]);
    expect([...slit(TWO_NODES.topology).subarray(44)]).toEqual([10, 20, 20, 10]);
  });
});

describe('buildAcpiTables', () => {
  const r = buildAcpiTables(TWO_NODES, 0xe0000);
  const table = (sig: string) => {
    const t = r.tables.find((x) => x.signature === sig)!;
    return r.bytes.subarray(t.offset, t.offset + t.length);
  };

  it('places the RSDP first and aligns FACS to 64 bytes', () => {
    expect(r.tables.map((t) => [t.signature, t.gpa - r.baseGpa === t.offset])).toEqual(['RSDP', 'XSDT', 'FACP', 'FACS', 'DSDT', 'APIC', 'SRAT', 'SLIT'].map((s) => [s, true]));
    expect([r.rsdpOffset, r.rsdpGpa]).toEqual([0, 0xe0000]);
    expect(r.tables.find((t) => t.signature === 'FACS')!.gpa % 64).toBe(0);
    expect(r.tables.every((t) => t.gpa % 8 === 0)).toBe(true);
    expect([...r.rsdp]).toEqual([...table('RSDP')]);
  });

  it('links RSDP -> XSDT -> FADT/MADT/SRAT/SLIT and FADT -> DSDT/FACS', () => {
    const gpa = (sig: string) => r.tables.find((t) => t.signature === sig)!.gpa;
    expect(view(table('RSDP')).getBigUint64(24, true)).toBe(BigInt(r.xsdtGpa));
    expect(r.xsdtGpa).toBe(gpa('XSDT'));
    const x = table('XSDT');
    expect([0, 1, 2, 3].map((i) => Number(view(x).getBigUint64(36 + 8 * i, true)))).toEqual(['FACP', 'APIC', 'SRAT', 'SLIT'].map(gpa));
    expect(view(x).getUint32(4, true)).toBe(36 + 32);
    const f = table('FACP');
    expect([view(f).getUint32(36, true), view(f).getUint32(40, true)]).toEqual([gpa('FACS'), gpa('DSDT')]);
  });

  it('gives every table a valid checksum and its declared length', () => {
    for (const t of r.tables) {
      const b = table(t.signature);
      if (t.signature === 'RSDP') expect([sum8(b, 0, 20), sum8(b)]).toEqual([0, 0]);
      else if (t.signature === 'FACS') expect(view(b).getUint32(4, true)).toBe(64);
      else expect([t.signature, view(b).getUint32(4, true), sum8(b)]).toEqual([t.signature, t.length, 0]);
    }
  });

  it('refuses tables that would run past the BIOS area or a bad topology', () => {
    const many = { ...TWO_NODES, virtioMmio: Array.from({ length: 200 }, (_, i) => ({ gpa: 0xd000_0000 + i * 0x1000, size: 0x200, irq: 5 })) };
    expect(() => buildAcpiTables(many, 0xff000)).toThrow('run past the BIOS area');
    expect(buildAcpiTables(many, 0x10_0000).bytes.length).toBeGreaterThan(0x1000);
    expect(() => buildAcpiTables({ ...TWO_NODES, topology: { ...TWO_NODES.topology, llcs: 3 } }, 0x10_0000)).toThrow('topology 2n3l2c2t: llcs: 3 LLCs cannot be split evenly across 2 NUMA nodes');
  });

  it('aligns an unaligned base', () => {
    const u = buildAcpiTables(TWO_NODES, 0x10_0004);
    expect([u.rsdpGpa, u.rsdpOffset]).toEqual([0x10_0010, 12]);
  });
});

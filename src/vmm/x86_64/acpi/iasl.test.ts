// Proves the tables parse with ACPICA's own disassembler (Debian: acpica-tools), and that
// recompiling the disassembly gives back our bytes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { shape } from '../../topology.testing.ts';
import { buildAcpiTables } from './index.ts';

const hasIasl = spawnSync('iasl', ['-v'], { encoding: 'utf8' }).status === 0;
const title = hasIasl ? 'ACPI tables through iasl' : 'ACPI tables through iasl (skipped: iasl not installed; apt-get install acpica-tools)';

const tables = buildAcpiTables(
  {
    topology: {
      ...shape('2n4l2c2t'),
      distances: [
        [10, 32],
        [32, 10],
      ],
    },
    memoryLayout: [
      { node: 0, gpa: 0, size: 0x4000_0000 },
      { node: 1, gpa: 0x4000_0000, size: 0x4000_0000 },
    ],
    virtioMmio: [
      { gpa: 0xd000_0000, size: 0x200, irq: 5 },
      { gpa: 0xd000_1000, size: 0x200, irq: 6, trigger: 'level' },
    ],
  },
  0xe0000,
);
const bytesOf = (sig: string): Uint8Array => {
  const t = tables.tables.find((x) => x.signature === sig)!;
  return tables.bytes.subarray(t.offset, t.offset + t.length);
};

describe.skipIf(!hasIasl)(title, () => {
  const dir = hasIasl ? mkdtempSync(join(tmpdir(), 'schedvm-acpi-')) : '';
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const iasl = (...args: string[]): string => {
    const r = spawnSync('iasl', args, { cwd: dir, encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    return r.stdout + r.stderr;
  };
  /** Disassembles our table; returns the .dsl text after checking iasl found nothing wrong. */
  const disassemble = (sig: string): string => {
    writeFileSync(join(dir, `${sig}.dat`), bytesOf(sig));
    const log = iasl('-d', `${sig}.dat`);
    expect(log).not.toMatch(/Warning|Error|Incorrect/);
    const dsl = readFileSync(join(dir, `${sig}.dsl`), 'utf8');
    expect(dsl).not.toMatch(/\*\*\*\*|Invalid|Incorrect|Unknown/);
    return dsl;
  };
  /** Compiles a .dsl back; the header's compiler id/revision (iasl writes its own) and checksum excluded. */
  const recompile = (sig: string, dsl: string): Uint8Array => {
    writeFileSync(join(dir, `re-${sig}.dsl`), dsl);
    expect(iasl(`re-${sig}.dsl`)).toMatch(/0 Errors, 0 Warnings/);
    return new Uint8Array(readFileSync(join(dir, `re-${sig}.aml`)));
  };
  const headerless = (b: Uint8Array) => [...b.subarray(0, 9), ...b.subarray(10, 28), ...b.subarray(36)];

  for (const sig of ['XSDT', 'FACP', 'FACS', 'APIC', 'SRAT', 'SLIT']) {
    it(`${sig} disassembles cleanly and recompiles to the same bytes`, () => {
      const dsl = disassemble(sig);
      const again = recompile(sig, dsl);
      if (sig === 'FACS') expect([...again]).toEqual([...bytesOf(sig)]);
      else expect(headerless(again)).toEqual(headerless(bytesOf(sig)));
    });
  }

  it('decodes MADT, SRAT and SLIT fields as we meant them', () => {
    const madt = disassemble('APIC');
    expect(madt.match(/Local Apic ID : (\w+)/g)).toHaveLength(16);
    expect(madt).toMatch(/Local Apic ID : 0D/);
    expect(madt).toMatch(/I\/O Apic ID : 00[\s\S]*Address : FEC00000[\s\S]*Interrupt : 00000000/);
    expect(madt).toMatch(/Source : 09\s+\[[^\]]*\]\s+Interrupt : 00000009/);
    const srat = disassemble('SRAT');
    expect(srat.match(/Proximity Domain Low\(8\) : 01/g)).toHaveLength(8);
    expect(srat).toMatch(/Base Address : 0000000040000000\s+\[[^\]]*\]\s+Address Length : 0000000040000000/);
    expect(disassemble('SLIT')).toMatch(/Locality {3}0 : 0A 20\s+\[[^\]]*\]\s+Locality {3}1 : 20 0A/);
  });

  it('DSDT disassembles to the virtio-mmio devices and recompiles to the same AML', () => {
    const dsl = disassemble('DSDT');
    expect(dsl).toContain('Device (VR00)');
    expect(dsl).toContain('Name (_HID, "LNRO0005")');
    expect(dsl).toContain('Name (_UID, One)');
    expect(dsl.replace(/\s+/g, ' ')).toContain(
      'Memory32Fixed (ReadWrite, 0xD0000000, // Address Base 0x00000200, // Address Length ) ' + 'Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, ) { 0x00000005, }',
    );
    expect(dsl.replace(/\s+/g, ' ')).toContain('Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive, ,, ) { 0x00000006, }');
    expect(dsl).toMatch(/Name \(_S5, Package \(0x04\)/);
    // iasl writes EndTag checksums as 0; ours make each template sum to zero. Nothing else may differ.
    const ours = headerless(bytesOf('DSDT'));
    const theirs = headerless(recompile('DSDT', dsl));
    expect(theirs.length).toBe(ours.length);
    const diffs = ours.flatMap((b, i) => (b === theirs[i] ? [] : [i]));
    expect(diffs).toHaveLength(2);
    for (const i of diffs) expect([ours[i - 1], theirs[i]]).toEqual([0x79, 0]);
  });

  it('RSDP: iasl compiles our field values to our exact bytes', () => {
    // iasl cannot disassemble a bare RSDP, so compile a data-table source with our values instead.
    const src = [
      '[0008] Signature : "RSD PTR "',
      '[0001] Checksum : 00',
      '[0006] Oem ID : "SCHDVM"',
      '[0001] Revision : 02',
      '[0004] RSDT Address : 00000000',
      '[0004] Length : 00000024',
      `[0008] XSDT Address : ${tables.xsdtGpa.toString(16).padStart(16, '0')}`,
      '[0001] Extended Checksum : 00',
      '[0003] Reserved : 000000',
    ].join('\n');
    writeFileSync(join(dir, 'rsdp.asl'), `${src}\n`);
    expect(iasl('rsdp.asl')).toMatch(/0 Errors/);
    expect([...readFileSync(join(dir, 'rsdp.aml'))]).toEqual([...tables.rsdp]);
  });
});

import { describe, expect, it } from 'vitest';
import { markdownTable, mergeReports, unreached, type Report } from './report.ts';
import type { CaseResult } from './stats.ts';

const fig = { median: 1, min: 1, max: 1, runs: 1 };
const row = (name: string, reference: string, median = 1): CaseResult => ({
  name,
  unit: 'ms',
  environment: 'host',
  ours: { ...fig, median },
  reference: { ...fig, name: reference },
  ratio: median,
});
const report = (at: string, cases: CaseResult[], skipped: Report['skipped'] = []): Report => ({ generatedAt: at, environments: {}, cases, skipped });

describe('mergeReports', () => {
  it('keeps the cases a run left out, dated when they were measured', () => {
    const merged = mergeReports(report('old', [row('a', 'x'), row('b', 'y')]), report('new', [row('b', 'y', 2)]));
    expect(merged.cases.map((c) => [c.name, c.ours.median, c.measuredAt])).toEqual([
      ['a', 1, 'old'],
      ['b', 2, 'new'],
    ]);
  });

  it('replaces every row of a re-measured case where its first stood, a renamed reference included', () => {
    const previous = report('old', [row('boot', 'microvm'), row('exits', 'C loop'), row('boot', 'q35'), row('tail', 'z')]);
    const merged = mergeReports(previous, report('new', [row('exits', 'C loop, same mode', 2), row('boot', 'microvm', 3), row('boot', 'q35', 3), row('fresh', 'w')]));
    expect(merged.cases.map((c) => `${c.name}/${c.reference.name}/${c.measuredAt}`)).toEqual(['boot/microvm/new', 'boot/q35/new', 'exits/C loop, same mode/new', 'tail/z/old', 'fresh/w/new']);
  });

  it("keeps a failed case's last figures, dated, and lists it as not measured until a run measures it", () => {
    const first = report('old', [
      { ...row('exit round trip', 'C'), caseId: 'exits' },
      { ...row('boot', 'microvm'), caseId: 'boot' },
    ]);
    const failed = mergeReports(first, report('new', [{ ...row('boot', 'microvm', 2), caseId: 'boot' }], [{ name: 'exits', reason: 'failed: x' }]));
    expect(failed.cases.map((c) => `${c.name}/${c.measuredAt}`)).toEqual(['exit round trip/old', 'boot/new']);
    expect(failed.skipped).toEqual([{ name: 'exits', reason: 'failed: x' }]);
    const again = mergeReports(failed, report('later', [], [{ name: 'exits', reason: 'failed: y' }]));
    expect(again.skipped).toEqual([{ name: 'exits', reason: 'failed: y' }]);
    const measured = mergeReports(failed, report('later', [{ ...row('exit round trip', 'C', 3), caseId: 'exits' }]));
    expect(measured.skipped).toEqual([]);
    expect(measured.cases.map((c) => `${c.name}/${c.measuredAt}`)).toEqual(['exit round trip/later', 'boot/new']);
  });
});

describe('unreached', () => {
  it('lists each case a stopped phase never reached by its id, which a later run that measures it clears', () => {
    const phase = report('new', [{ ...row('boot', 'microvm'), caseId: 'boot' }], [{ name: 'console', reason: 'failed: x' }]);
    const rest = unreached(['boot', 'console', 'memory', 'largest-guest'], phase, 'the sandbox exited 1 before it');
    expect(rest).toEqual([
      { name: 'memory', reason: 'the sandbox exited 1 before it' },
      { name: 'largest-guest', reason: 'the sandbox exited 1 before it' },
    ]);
    const stopped = mergeReports(undefined, { ...phase, skipped: [...phase.skipped, ...rest] });
    const later = mergeReports(stopped, report('later', [{ ...row('memory 1 vCPU', 'C'), caseId: 'memory' }]));
    expect(later.skipped.map((s) => s.name)).toEqual(['console', 'largest-guest']);
  });
});

describe('markdownTable', () => {
  it('pads every column to its widest cell, as the lint formats it, so a fresh report passes lint', () => {
    const table = markdownTable(report('2026-12-05T00:00:00Z', [row('boot', 'QEMU microvm', 1234.5), row('memory: 16 vCPUs', 'C loop')]))
      .split('\n')
      .filter((l) => l.startsWith('|'));
    expect(table).toHaveLength(4);
    expect(new Set(table.map((l) => l.length)).size).toBe(1);
    expect(table[1]).toMatch(/^\| -{16} \| -{5} \|/);
  });

  it("lists a case's note once, however many reference rows the case has", () => {
    const boot = (ref: string) => ({ ...row('boot', ref), note: 'schedvm as installed' });
    const text = markdownTable(report('2026-12-05T00:00:00Z', [boot('QEMU microvm'), boot('QEMU q35'), { ...row('memory', 'C loop'), note: 'goal: 62 MiB' }]));
    expect(text.split('\n').filter((l) => l.startsWith('- '))).toEqual(['- boot: schedvm as installed', '- memory: goal: 62 MiB']);
  });
});

import { describe, expect, test } from 'vitest';
import { formatSandboxSummary, parseSandboxSummary } from './phase-summary.ts';

describe('the kvm phase summary', () => {
  test('reads back what it wrote, with one VM or several', () => {
    for (const s of [
      { vms: 2, starts: 3, stalls: 1, bootStalls: 0, seconds: 964 },
      { vms: 1, starts: 1, stalls: 0, bootStalls: 2, seconds: 1424 },
    ]) {
      const line = `schedvm test: unit+host passed, kvm+examples passed (${formatSandboxSummary(s)})\n`;
      expect(parseSandboxSummary(`noise\n${line}`)).toEqual(s);
    }
    expect(formatSandboxSummary({ vms: 1, starts: 1, stalls: 0, bootStalls: 0, seconds: 5 })).toBe('in the sandbox, 1 VM start, 0 sandbox stalls, 0 guest boot stalls, 5 s');
  });

  test('a run without one (kvm on the host, or cut off) has none', () => {
    expect(parseSandboxSummary("kvm+examples passed (on this host's /dev/kvm)")).toBeUndefined();
  });
});

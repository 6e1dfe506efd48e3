import { describe, expect, test } from 'vitest';
import { balancedGroups, loadDurations, sandboxVms } from './kvm-groups.ts';

describe('balancedGroups', () => {
  const ms: Record<string, number> = { boot: 330, plugin: 124, sched: 100, vm: 24, dev: 30, ex: 25 };
  test('longest first onto the least loaded group; each group keeps the given order', () => {
    const groups = balancedGroups(['boot', 'dev', 'ex', 'plugin', 'sched', 'vm'], (f) => ms[f], 2);
    expect(groups).toEqual([['boot'], ['dev', 'ex', 'plugin', 'sched', 'vm']]);
  });
  test('files never timed count as a minute; no empty groups', () => {
    expect(
      balancedGroups(['x', 'y', 'z'], () => undefined, 2)
        .map((g) => g.length)
        .sort(),
    ).toEqual([1, 2]);
    expect(balancedGroups(['only'], () => undefined, 2)).toEqual([['only']]);
  });
});

describe('sandboxVms', () => {
  test('defaults to the cores, at most 2', () => {
    expect(sandboxVms({}, 2)).toBe(2);
    expect(sandboxVms({}, 1)).toBe(1);
    expect(sandboxVms({}, 8)).toBe(2);
  });
  test('SCHEDVM_SANDBOX_VMS picks another count, and a bad one is a clear error', () => {
    expect(sandboxVms({ SCHEDVM_SANDBOX_VMS: '1' }, 2)).toBe(1);
    expect(() => sandboxVms({ SCHEDVM_SANDBOX_VMS: '3' }, 2)).toThrow(/SCHEDVM_SANDBOX_VMS='3': expected a whole number from 1 to 2/);
    expect(() => sandboxVms({ SCHEDVM_SANDBOX_VMS: 'two' }, 2)).toThrow(/SCHEDVM_SANDBOX_VMS/);
  });
});

describe('loadDurations', () => {
  test("a cold cache still knows this repository's kvm files: the longest go to different VMs", () => {
    const known = loadDurations();
    const files = ['src/runner/linux-boot.kvm.test.ts', 'src/runner/scheduler-upstream.kvm.test.ts', 'examples/bare-smoke.test.ts'];
    const groups = balancedGroups(files, (f) => known.get(f), 2);
    expect(groups.find((g) => g.includes('src/runner/linux-boot.kvm.test.ts'))).not.toContain('src/runner/scheduler-upstream.kvm.test.ts');
  });
});

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TestCase, TestModule } from 'vitest/node';
import SlowTestReporter from './slow-reporter.ts';

const mod = (name: string) => ({ moduleId: join(process.cwd(), name) }) as TestModule;
const testCase = (id: string, m: TestModule, fullName: string) => ({ id, module: m, fullName }) as unknown as TestCase;

describe('SlowTestReporter', () => {
  it('names files running past the limit, with their test or their hooks', () => {
    const printed: string[] = [];
    const r = new SlowTestReporter({ afterMs: 1000, write: (l) => printed.push(l) });
    const t0 = Date.now();
    const a = mod('src/a.kvm.test.ts');
    const b = mod('src/b.kvm.test.ts');
    r.onTestModuleStart(a);
    r.onTestModuleStart(b);
    r.onTestCaseReady(testCase('1', a, 'boots > 2n2l'));
    expect(r.report(t0 + 500)).toEqual([]);
    const lines = r.report(t0 + 5000);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^schedvm: still running after [45] s: src\/a\.kvm\.test\.ts, in "boots > 2n2l" for [45] s$/);
    expect(lines[1]).toMatch(/src\/b\.kvm\.test\.ts, in its hooks/);
    expect(printed).toEqual(lines);
    r.onTestCaseResult(testCase('1', a, 'boots > 2n2l'));
    r.onTestModuleEnd(a);
    expect(r.report(t0 + 6000).map((l) => l.includes('a.kvm'))).toEqual([false]);
    r.onTestRunEnd();
  });
});

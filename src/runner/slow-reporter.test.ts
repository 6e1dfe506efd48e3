import { join } from 'node:path';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { TestCase, TestModule } from 'vitest/node';
import { appendDurably, noteBootStall, readDurations, readProgress } from './progress.ts';
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
    expect(lines[1]).toMatch(/src\/b\.kvm\.test\.ts, in its hooks or before its first test$/);
    expect(printed).toEqual(lines);
    r.onTestCaseResult(testCase('1', a, 'boots > 2n2l'));
    r.onTestModuleEnd(a);
    expect(r.report(t0 + 6000).map((l) => l.includes('a.kvm'))).toEqual([false]);
    r.onTestRunEnd();
  });
});

describe('SlowTestReporter under schedvm test (SCHEDVM_PROGRESS_FILE)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'schedvm-progress-'));
  afterEach(() => {
    delete process.env.SCHEDVM_PROGRESS_FILE;
    rmSync(dir, { recursive: true, force: true });
  });

  it("records each ended file with its state and run time, and prints a failed file's errors at once", () => {
    process.env.SCHEDVM_PROGRESS_FILE = join(dir, 'progress');
    const printed: string[] = [];
    const r = new SlowTestReporter({ write: (l) => printed.push(l) });
    const failedTest = { fullName: 'boots > 2n2l', result: () => ({ errors: [{ message: 'expected Shutdown\nto be Timeout' }] }) };
    const ended = (name: string, state: string, failed: unknown[]) => ({ moduleId: join(process.cwd(), name), state: () => state, children: { allTests: () => failed } }) as unknown as TestModule;
    const a = join(process.cwd(), 'src/a.kvm.test.ts');
    const b = join(process.cwd(), 'src/b.kvm.test.ts');
    r.onTestModuleStart({ moduleId: a } as TestModule);
    r.onTestModuleEnd(ended('src/a.kvm.test.ts', 'passed', []));
    r.onTestModuleEnd(ended('src/b.kvm.test.ts', 'failed', [failedTest]));
    const progress = readFileSync(join(dir, 'progress'), 'utf8');
    expect(progress).toMatch(new RegExp(`^passed ${a}\\ntook \\d+ ${a}\\nfailed ${b}\\ntook 0 ${b}\\n$`));
    expect(readProgress(progress)).toEqual(
      new Map([
        [a, 'passed'],
        [b, 'failed'],
      ]),
    );
    expect(readDurations(progress).get(a)).toBeGreaterThanOrEqual(0);
    expect(printed).toEqual(['schedvm: FAILED src/b.kvm.test.ts > boots > 2n2l: expected Shutdown\nto be Timeout']);
  });

  it('in the sandbox, a test past the hang limit is recorded as failed and ends the run', () => {
    const own = mkdtempSync(join(tmpdir(), 'schedvm-progress-'));
    process.env.SCHEDVM_PROGRESS_FILE = join(own, 'progress');
    process.env.SCHEDVM_IN_SANDBOX = '1';
    try {
      const printed: string[] = [];
      let ended = 0;
      const r = new SlowTestReporter({ afterMs: 1000, hungMs: 10_000, write: (l) => printed.push(l), onHung: () => ended++, stuckThreads: () => [] });
      const t0 = Date.now();
      const a = mod('src/a.kvm.test.ts');
      r.onTestModuleStart(a);
      r.onTestCaseReady(testCase('1', a, 'boots > 2n2l'));
      r.report(t0 + 9000);
      expect(ended).toBe(0);
      r.report(t0 + 11_000);
      expect(ended).toBe(1);
      expect(readFileSync(join(own, 'progress'), 'utf8')).toBe(`failed ${join(process.cwd(), 'src/a.kvm.test.ts')}\n`);
      expect(printed.at(-1)).toMatch(/^schedvm: HUNG src\/a\.kvm\.test\.ts > boots > 2n2l: no news for 1[01] s/);
    } finally {
      delete process.env.SCHEDVM_IN_SANDBOX;
      rmSync(own, { recursive: true, force: true });
    }
  });

  it('counts a file as hung when its worker went silent before reporting any test, and not while tests keep ending', () => {
    const own = mkdtempSync(join(tmpdir(), 'schedvm-progress-'));
    process.env.SCHEDVM_PROGRESS_FILE = join(own, 'progress');
    process.env.SCHEDVM_IN_SANDBOX = '1';
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const printed: string[] = [];
      let ended = 0;
      const stuck = ['pid 7: node worker', '  tid 9 node state=S wchan=futex_wait_queue syscall=202 0x7f 0x80 0x1'];
      const r = new SlowTestReporter({ afterMs: 1000, hungMs: 10_000, write: (l) => printed.push(l), onHung: () => ended++, stuckThreads: () => stuck });
      const a = mod('src/a.kvm.test.ts');
      const b = mod('src/b.kvm.test.ts');
      const t0 = Date.now();
      r.onTestModuleStart(a);
      r.onTestModuleStart(b);
      // a: one 4 s test after another, 16 s in all (past the limit): alive. b: never a test.
      for (let i = 0; i < 4; i++) {
        vi.setSystemTime(t0 + 4000 * i);
        r.onTestCaseReady(testCase(`a${i}`, a, `step ${i}`));
        vi.setSystemTime(t0 + 4000 * (i + 1));
        r.onTestCaseResult(testCase(`a${i}`, a, `step ${i}`));
        r.report(Math.min(Date.now(), t0 + 9000));
      }
      expect(ended).toBe(0);
      r.report(t0 + 16_000);
      expect(ended).toBe(1);
      expect(readFileSync(join(own, 'progress'), 'utf8')).toBe(`failed ${join(process.cwd(), 'src/b.kvm.test.ts')}\n`);
      expect(printed.at(-3)).toMatch(/^schedvm: HUNG src\/b\.kvm\.test\.ts > \(no test reported: its hooks, or before its first test\): no news for 16 s/);
      // Then where its workers are stuck, before they are killed.
      expect(printed.slice(-2)).toEqual(stuck.map((l) => `schedvm: HUNG ${l}`));
    } finally {
      vi.useRealTimers();
      delete process.env.SCHEDVM_IN_SANDBOX;
      rmSync(own, { recursive: true, force: true });
    }
  });

  it('in the sandbox, a boot stall noted after this run started ends it; one from an earlier sandbox does not', () => {
    const own = mkdtempSync(join(tmpdir(), 'schedvm-progress-'));
    const progress = join(own, 'progress');
    process.env.SCHEDVM_PROGRESS_FILE = progress;
    process.env.SCHEDVM_IN_SANDBOX = '1';
    try {
      appendDurably(progress, 'boot-stalled topo-old\nfailed /r/x.kvm.test.ts\n'); // the sandbox before this one
      const printed: string[] = [];
      let ended = 0;
      const r = new SlowTestReporter({ afterMs: 60_000, write: (l) => printed.push(l), onHung: () => ended++ });
      r.onTestRunStart();
      const a = mod('src/a.kvm.test.ts');
      r.onTestModuleStart(a);
      r.report(Date.now());
      expect(ended).toBe(0);
      expect(noteBootStall('topo-1n1l1c1t', 'last line "smp: Bringing up secondary CPUs"; vCPU 0 ip=0x1')).toBe(true);
      r.report(Date.now());
      expect(ended).toBe(1);
      expect(printed.at(-1)).toMatch(
        /^schedvm: STALLED boot of topo-1n1l1c1t \(last line "smp: Bringing up secondary CPUs"; vCPU 0 ip=0x1\): no \/init within its boot_timeout_s\..*with src\/a\.kvm\.test\.ts not ended$/,
      );
      r.onTestRunEnd();
    } finally {
      delete process.env.SCHEDVM_IN_SANDBOX;
      rmSync(own, { recursive: true, force: true });
    }
  });
});

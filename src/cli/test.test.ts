import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SandboxStalledError } from '../sandbox/run-in-vm.ts';
import { KvmPhase, type KvmPhaseDeps } from './test.ts';

const ROOT = '/r';
const FILES = ['a', 'b', 'c'].map((f) => `${ROOT}/${f}.kvm.test.ts`);

/**
 * A scripted sandbox: each run appends what its vitest would have (verdicts, a boot-stall note)
 * to the progress file and returns an exit status, or throws like a stalled sandbox VM.
 */
function fakeDeps(progress: string, runs: Array<(filters: string[]) => number>) {
  const filters: string[][] = [];
  const log: string[] = [];
  const deps: KvmPhaseDeps = {
    run: async (argv, env) => {
      expect(env.SCHEDVM_PROGRESS_FILE).toBe(progress);
      const f = argv.filter((a) => a.endsWith('.test.ts'));
      filters.push(f);
      const step = runs.shift();
      if (!step) throw new Error('one run too many');
      return step(f);
    },
    list: () => FILES,
    sandboxed: () => true,
    log: (line) => log.push(line),
  };
  const ended = (state: string, file: string) => appendFileSync(progress, `${state} ${ROOT}/${file}.kvm.test.ts\n`);
  return { deps, filters, log, ended };
}

describe('KvmPhase (schedvm test: the kvm and examples projects)', () => {
  const dirs: string[] = [];
  const progressFile = () => {
    const dir = mkdtempSync(join(tmpdir(), 'schedvm-phase-'));
    dirs.push(dir);
    return join(dir, 'progress');
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('one run when every file passes', async () => {
    const progress = progressFile();
    const f = fakeDeps(progress, [() => (FILES.forEach((x) => appendFileSync(progress, `passed ${x}\n`)), 0)]);
    const phase = new KvmPhase(progress, f.deps, ROOT);
    expect(await phase.run([])).toBe(0);
    expect(phase.runs).toBe(1);
    expect(f.filters).toEqual([[]]);
  });

  it('a run ended by a stalled boot: the files not ended run in a fresh sandbox, then the failed one once more', async () => {
    const progress = progressFile();
    const f = fakeDeps(progress, [
      () => {
        // a passed; b's boot stalled, so b failed and the reporter ended vitest with c still running
        f.ended('passed', 'a');
        appendFileSync(progress, 'boot-stalled topo-1n1l1c1t\n');
        f.ended('failed', 'b');
        return 1;
      },
      () => (f.ended('passed', 'c'), 0),
      () => (f.ended('passed', 'b'), 0),
    ]);
    const phase = new KvmPhase(progress, f.deps, ROOT);
    expect(await phase.run([])).toBe(0);
    expect(f.filters).toEqual([[], ['c.kvm.test.ts'], ['b.kvm.test.ts']]);
    expect(phase.runs).toBe(3);
    expect(f.log.join('\n')).toContain('2 test files had ended; restarting the sandbox for the 1 left: c.kvm.test.ts');
    expect(f.log.at(-1)).toBe('schedvm test: passed on their second run (flaky under emulation): b.kvm.test.ts');
  });

  it('a file that fails on its rerun too fails the phase', async () => {
    const progress = progressFile();
    const f = fakeDeps(progress, [
      () => (f.ended('passed', 'a'), f.ended('failed', 'b'), f.ended('passed', 'c'), 1),
      () => (f.ended('failed', 'b'), 1),
    ]);
    expect(await new KvmPhase(progress, f.deps, ROOT).run([])).toBe(1);
    expect(f.filters).toEqual([[], ['b.kvm.test.ts']]);
  });

  it('gives up after three restarts when runs keep ending early', async () => {
    const progress = progressFile();
    const f = fakeDeps(progress, [() => (f.ended('passed', 'a'), 1), () => 1, () => 1, () => 1]);
    const phase = new KvmPhase(progress, f.deps, ROOT);
    expect(await phase.run([])).toBe(1);
    expect(phase.runs).toBe(4);
    expect(f.log.at(-1)).toBe("schedvm test: the sandbox's vitest exited with 1; 2 test files never ran after 3 restarts");
  });

  it('a stalled sandbox VM after every file ended changes nothing; with the caller\'s own filters a stall is an error', async () => {
    const progress = progressFile();
    const f = fakeDeps(progress, [
      () => {
        FILES.forEach((x) => appendFileSync(progress, `passed ${x}\n`));
        throw new SandboxStalledError(90_000);
      },
    ]);
    expect(await new KvmPhase(progress, f.deps, ROOT).run([])).toBe(0);

    const own = progressFile();
    const g = fakeDeps(own, [() => { throw new SandboxStalledError(90_000); }]);
    await expect(new KvmPhase(own, g.deps, ROOT).run(['a.kvm.test.ts'])).rejects.toThrow(/stopped responding/);
  });
});

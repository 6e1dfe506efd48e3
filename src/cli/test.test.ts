import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SandboxStalledError } from '../sandbox/run-in-vm.ts';
import { KvmPhase, type KvmPhaseDeps, runKvmPhases } from './test.ts';

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
    vi.unstubAllEnvs();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('one run when every file passes', async () => {
    const progress = progressFile();
    const f = fakeDeps(progress, [
      () => {
        for (const x of FILES) appendFileSync(progress, `passed ${x}\n`);
        return 0;
      },
    ]);
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
      () => f.ended('passed', 'c') ?? 0,
      () => f.ended('passed', 'b') ?? 0,
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
    const f = fakeDeps(progress, [() => f.ended('passed', 'a') ?? f.ended('failed', 'b') ?? f.ended('passed', 'c') ?? 1, () => f.ended('failed', 'b') ?? 1]);
    expect(await new KvmPhase(progress, f.deps, ROOT).run([])).toBe(1);
    expect(f.filters).toEqual([[], ['b.kvm.test.ts']]);
  });

  it('gives up after three restarts when runs keep ending early', async () => {
    const progress = progressFile();
    const f = fakeDeps(progress, [() => f.ended('passed', 'a') ?? 1, () => 1, () => 1, () => 1]);
    const phase = new KvmPhase(progress, f.deps, ROOT);
    expect(await phase.run([])).toBe(1);
    expect(phase.runs).toBe(4);
    expect(f.log.at(-1)).toBe("schedvm test: the sandbox's vitest exited with 1; 2 test files never ran after 3 restarts");
  });

  it("a stalled sandbox VM after every file ended changes nothing; with the caller's own filters a stall is an error", async () => {
    const progress = progressFile();
    const f = fakeDeps(progress, [
      () => {
        FILES.forEach((x) => {
          appendFileSync(progress, `passed ${x}\n`);
        });
        throw new SandboxStalledError(90_000);
      },
    ]);
    expect(await new KvmPhase(progress, f.deps, ROOT).run([])).toBe(0);

    const own = progressFile();
    const g = fakeDeps(own, [
      () => {
        throw new SandboxStalledError(90_000);
      },
    ]);
    await expect(new KvmPhase(own, g.deps, ROOT).run(['a.kvm.test.ts'])).rejects.toThrow(/stopped responding/);
  });

  it("in the sandbox the files are split across VMs running at once; a stall restarts only its own VM's unended files, and is counted", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'schedvm-phases-'));
    dirs.push(dir);
    vi.stubEnv('SCHEDVM_CACHE', join(dir, 'cache')); // the durations it saves
    const files = ['a', 'b', 'c', 'd'].map((f) => `${ROOT}/${f}.kvm.test.ts`);
    const calls: string[][] = [];
    let stalledOnce = false;
    const deps: KvmPhaseDeps = {
      run: async (argv, env) => {
        const mine = argv.filter((a) => a.endsWith('.test.ts'));
        calls.push(mine);
        // The VM running a.kvm.test.ts ends a, then stalls during the next file, once.
        for (const f of mine) {
          if (f !== 'a.kvm.test.ts' && mine.includes('a.kvm.test.ts') && !stalledOnce) {
            stalledOnce = true;
            throw new SandboxStalledError(90_000, '/r/.schedvm-artifacts/sandbox-stalls/x.txt');
          }
          appendFileSync(env.SCHEDVM_PROGRESS_FILE!, `passed ${ROOT}/${f}\ntook 1000 ${ROOT}/${f}\n`);
        }
        return 0;
      },
      list: () => files,
      sandboxed: () => true,
      log: () => {},
    };
    const { status, phases } = await runKvmPhases([], dir, deps, 2, ROOT);
    expect(status).toBe(0);
    expect(phases).toHaveLength(2);
    const firstRuns = calls.slice(0, 2).flat().sort();
    expect(firstRuns).toEqual(['a.kvm.test.ts', 'b.kvm.test.ts', 'c.kvm.test.ts', 'd.kvm.test.ts']);
    const stalledGroup = calls.slice(0, 2).find((c) => c.includes('a.kvm.test.ts'))!;
    // The restart runs the stalled VM's files that had not ended, not a.
    expect(calls[2]).toEqual(stalledGroup.filter((f) => f !== 'a.kvm.test.ts'));
    expect(phases.map((p) => p.stalls).sort()).toEqual([0, 1]);
    expect(phases.reduce((n, p) => n + p.runs, 0)).toBe(3);
    expect(new Map(phases.flatMap((p) => [...p.durations()])).get('a.kvm.test.ts')).toBe(1000);
  });

  it("one VM with the caller's own filters, or on a host with KVM", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'schedvm-phases-'));
    dirs.push(dir);
    vi.stubEnv('SCHEDVM_CACHE', join(dir, 'cache'));
    const seen: string[][] = [];
    const deps: KvmPhaseDeps = { run: async (argv) => seen.push(argv.filter((a) => a.endsWith('.ts'))) && 0, list: () => FILES, sandboxed: () => true, log: () => {} };
    expect((await runKvmPhases(['a.kvm.test.ts'], dir, deps, 2, ROOT)).phases).toHaveLength(1);
    expect((await runKvmPhases([], dir, { ...deps, sandboxed: () => false }, 2, ROOT)).phases).toHaveLength(1);
    expect(seen).toEqual([['a.kvm.test.ts'], []]);
  });
});

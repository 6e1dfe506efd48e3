// `schedvm test` (what `npm test` runs): the unit and host projects here, the kvm and examples
// projects wherever /dev/kvm works (this host, or the sandbox: one sandbox run for both).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { shouldUseSandbox } from '../sandbox/index.ts';
import { runWithKvmPrepared } from './with-kvm.ts';
import { SandboxStalledError } from '../sandbox/run-in-vm.ts';
import { bootStalls, failedFiles, readDurations, readOrEmpty, readProgress } from '../runner/progress.ts';
import { formatSandboxSummary } from './phase-summary.ts';
import { balancedGroups, loadDurations, sandboxVms, saveDurations } from './kvm-groups.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VITEST = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
const KVM_PROJECTS = ['kvm', 'examples'];
/** Sandbox restarts after a run cut short (each runs only the files not ended). */
const RESTARTS = 3;

function runHere(argv: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

export const vitest = (projects: string[], args: string[]) => [process.execPath, VITEST, 'run', ...projects.flatMap((p) => ['--project', p]), ...args];

/** Test files of the projects, as vitest resolves them. */
function listFiles(projects: string[]): string[] {
  const out = execFileSync(process.execPath, [VITEST, 'list', '--filesOnly', '--json', ...projects.flatMap((p) => ['--project', p])], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return (JSON.parse(out) as Array<{ file: string }>).map((f) => f.file);
}

/** What the kvm phase does outside this module: injected by the unit tests. */
export interface KvmPhaseDeps {
  /** Runs argv with a usable /dev/kvm (SandboxStalledError when the sandbox VM stalled). */
  run(argv: string[], env: Record<string, string>): Promise<number>;
  /** Every test file of the kvm projects (absolute paths). */
  list(): string[];
  sandboxed(): boolean;
  log(line: string): void;
}

const realDeps: KvmPhaseDeps = {
  run: (argv, env) => runWithKvmPrepared(argv, { cwd: ROOT, env }),
  list: () => listFiles(KVM_PROJECTS),
  sandboxed: () => shouldUseSandbox(),
  log: (line) => process.stderr.write(`${line}\n`),
};

/** The kvm and examples projects, with their restarts and reruns; `runs` counts the starts (sandbox VMs there), `stalls` the sandbox VMs that stalled. */
export class KvmPhase {
  runs = 0;
  stalls = 0;
  /**
   * `group`: the test files this phase owns (absolute), when the files are split across several
   * sandbox VMs; by default, every file of the kvm projects.
   */
  constructor(
    private readonly progress: string,
    private readonly deps: KvmPhaseDeps = realDeps,
    private readonly root = ROOT,
    private readonly group?: string[],
  ) {}

  /** The whole phase: exit status 0 when every file passed (on its first run or its one rerun). */
  async run(args: string[]): Promise<number> {
    return this.rerunFailedOnce(await this.runProjects(args), args);
  }

  /**
   * One run through deps.run. A sandbox run can end before every file did: its VM stalled (its
   * heartbeat stopped: the watchdog kills it after a stall report), a wedged test worker ended
   * vitest (the slow reporter's hang guard), or a nested guest's boot stalled (the reporter ends
   * the run: see progress.ts). Then only the files that had not ended run in a fresh sandbox, at
   * most RESTARTS times; ended files keep their verdict, and a run cut short fails if any file failed.
   */
  private async runProjects(args: string[]): Promise<number> {
    // The caller's own filters: there is no telling which files are left, so no restarts.
    const own = args.length > 0;
    let filters = own ? args : (this.group?.map((f) => relative(this.root, f)) ?? []);
    for (let attempt = 0; ; attempt++) {
      let status: number;
      let stalled: SandboxStalledError | undefined;
      this.runs++;
      try {
        status = await this.deps.run(vitest(KVM_PROJECTS, filters), { SCHEDVM_PROGRESS_FILE: this.progress });
      } catch (e) {
        if (!(e instanceof SandboxStalledError)) throw e;
        stalled = e;
        this.stalls++;
        status = 1;
      }
      if (stalled && own) throw stalled;
      const ended = readProgress(readOrEmpty(this.progress));
      const anyFailed = [...ended.values()].includes('failed');
      const remaining = own ? [] : (this.group ?? this.deps.list()).filter((f) => !ended.has(f));
      // Every file ended: their verdicts decide (a stall after the last one changes nothing).
      if (remaining.length === 0) return anyFailed ? 1 : stalled ? 0 : status;
      if (status === 0) return anyFailed ? 1 : 0;
      const why = stalled?.message ?? `the sandbox's vitest exited with ${status}`;
      if (attempt >= RESTARTS) {
        this.deps.log(`schedvm test: ${why}; ${remaining.length} test files never ran after ${RESTARTS} restarts`);
        return status;
      }
      this.deps.log(
        `schedvm test: ${why}\nschedvm test: ${ended.size} test files had ended; restarting the sandbox for the ${remaining.length} left: ` +
          `${remaining.map((f) => relative(this.root, f)).join(', ')}`,
      );
      filters = remaining.map((f) => relative(this.root, f));
    }
  }

  /**
   * In the sandbox only, the files that failed get one more run in a fresh sandbox VM: nested
   * emulation now and then leaves a guest stalled for many minutes (see README, troubleshooting),
   * which a fresh VM does not repeat. A file that fails twice fails the run; one that passes on
   * its rerun is named, so the flake stays visible.
   */
  private async rerunFailedOnce(firstStatus: number, args: string[]): Promise<number> {
    const failed = failedFiles(readOrEmpty(this.progress)).map((file) => relative(this.root, file));
    if (firstStatus === 0 || args.length > 0 || failed.length === 0 || !this.deps.sandboxed()) return firstStatus;
    this.deps.log(`schedvm test: ${failed.length} test files failed in the sandbox; running them once more in a fresh one: ${failed.join(', ')}`);
    const status = await this.runProjects(failed);
    const ended = readProgress(readOrEmpty(this.progress));
    const recovered = failed.filter((f) => ended.get(join(this.root, f)) === 'passed');
    if (recovered.length) this.deps.log(`schedvm test: passed on their second run (flaky under emulation): ${recovered.join(', ')}`);
    return status;
  }

  /** Boot stalls noted in this phase's progress file. */
  bootStalls(): number {
    return bootStalls(readOrEmpty(this.progress)).length;
  }

  /** How long each file ran, keyed by its path relative to the root (clones move). */
  durations(): Map<string, number> {
    return new Map([...readDurations(readOrEmpty(this.progress))].map(([f, ms]) => [relative(this.root, f), ms]));
  }
}

/**
 * The kvm phase: in the sandbox, without the caller's filters, the files are split across
 * sandboxVms() VMs running at once, each group a KvmPhase of its own; else one KvmPhase.
 */
export async function runKvmPhases(args: string[], dir: string, deps: KvmPhaseDeps = realDeps, vms = sandboxVms(), root = ROOT): Promise<{ status: number; phases: KvmPhase[] }> {
  const split = deps.sandboxed() && args.length === 0 && vms > 1;
  const files = split ? deps.list() : [];
  const known = loadDurations();
  const groups = split ? balancedGroups(files, (f) => known.get(relative(root, f)), vms) : [undefined];
  if (groups.length > 1) deps.log(`schedvm test: kvm+examples in ${groups.length} sandbox VMs at once: ${groups.map((g) => `${g!.length} files`).join(' + ')}`);
  const phases = groups.map((g, i) => new KvmPhase(join(dir, `progress-${i}`), deps, root, g));
  const statuses = await Promise.all(phases.map((p) => p.run(args)));
  for (const p of phases) saveDurations(p.durations());
  return { status: statuses.every((s) => s === 0) ? 0 : 1, phases };
}

export async function main(args: string[]): Promise<number> {
  const unit = await runHere(vitest(['unit', 'host'], args));
  const dir = mkdtempSync(join(tmpdir(), 'schedvm-test-'));
  let kvm: number;
  let where: string;
  try {
    const started = Date.now();
    const { status, phases } = await runKvmPhases(args, dir);
    kvm = status;
    const sum = (f: (p: KvmPhase) => number) => phases.reduce((n, p) => n + f(p), 0);
    where = shouldUseSandbox()
      ? formatSandboxSummary({
          vms: phases.length,
          starts: sum((p) => p.runs),
          stalls: sum((p) => p.stalls),
          bootStalls: sum((p) => p.bootStalls()),
          seconds: Math.round((Date.now() - started) / 1000),
        })
      : "on this host's /dev/kvm";
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.stderr.write(`schedvm test: unit+host ${unit === 0 ? 'passed' : 'FAILED'}, kvm+examples ${kvm === 0 ? 'passed' : 'FAILED'} (${where})\n`);
  return unit === 0 && kvm === 0 ? 0 : 1;
}

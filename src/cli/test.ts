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
import { failedFiles, readOrEmpty, readProgress } from '../runner/progress.ts';

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

/** The kvm and examples projects, with their restarts and reruns; `runs` counts the starts (sandbox VMs there). */
export class KvmPhase {
  runs = 0;
  constructor(
    private readonly progress: string,
    private readonly deps: KvmPhaseDeps = realDeps,
    private readonly root = ROOT,
  ) {}

  /** The whole phase: exit status 0 when every file passed (on its first run or its one rerun). */
  async run(args: string[]): Promise<number> {
    return this.rerunFailedOnce(await this.runProjects(args), args);
  }

  /**
   * One run through deps.run. A sandbox run can end before every file did: its VM stalled (QEMU
   * TCG can livelock under a nested guest; the heartbeat watchdog kills it), a wedged test
   * worker ended vitest (the slow reporter's hang guard), or a nested guest's boot stalled (the
   * reporter ends the run: see progress.ts). Then the files that had not ended run in a fresh
   * sandbox, at most RESTARTS times; ended files keep their verdict, and a run cut short fails
   * if any file failed.
   */
  private async runProjects(args: string[]): Promise<number> {
    let filters = args;
    for (let attempt = 0; ; attempt++) {
      let status: number;
      let stalled: SandboxStalledError | undefined;
      this.runs++;
      try {
        status = await this.deps.run(vitest(KVM_PROJECTS, filters), { SCHEDVM_PROGRESS_FILE: this.progress });
      } catch (e) {
        if (!(e instanceof SandboxStalledError)) throw e;
        stalled = e;
        status = 1;
      }
      // With the caller's own filters there is no telling which files are left: no restart.
      if (stalled && args.length > 0) throw stalled;
      const ended = readProgress(readOrEmpty(this.progress));
      const anyFailed = [...ended.values()].includes('failed');
      const remaining = args.length > 0 ? [] : this.deps.list().filter((f) => !ended.has(f));
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
}

export async function main(args: string[]): Promise<number> {
  const unit = await runHere(vitest(['unit', 'host'], args));
  const dir = mkdtempSync(join(tmpdir(), 'schedvm-test-'));
  const phase = new KvmPhase(join(dir, 'progress'));
  let kvm: number;
  try {
    kvm = await phase.run(args);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const where = shouldUseSandbox() ? `in the sandbox, ${phase.runs} ${phase.runs === 1 ? 'VM' : 'VMs'}` : "on this host's /dev/kvm";
  process.stderr.write(`schedvm test: unit+host ${unit === 0 ? 'passed' : 'FAILED'}, kvm+examples ${kvm === 0 ? 'passed' : 'FAILED'} (${where})\n`);
  return unit === 0 && kvm === 0 ? 0 : 1;
}

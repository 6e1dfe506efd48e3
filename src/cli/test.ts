// `schedvm test` (what `npm test` runs): the unit and host projects here, the kvm and examples
// projects wherever /dev/kvm works (this host, or the sandbox: one sandbox run for both).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runWithKvm, shouldUseSandbox } from '../sandbox/index.ts';
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

/**
 * The kvm and examples projects through runWithKvm. A sandbox run can end before every file
 * did: its VM stalled (QEMU TCG can livelock under a nested guest; the heartbeat watchdog kills
 * it), or a wedged test worker ended vitest (the slow reporter's hang guard). Then the files
 * that had not ended run in a fresh sandbox, at most RESTARTS times; ended files keep their
 * verdict, and a run cut short fails if any file failed.
 */
/** How many times the kvm projects were started (each a sandbox VM of its own there): for the summary. */
let kvmRuns = 0;

async function runKvmProjects(args: string[], progress: string): Promise<number> {
  let filters = args;
  for (let attempt = 0; ; attempt++) {
    let status: number;
    let stalled: SandboxStalledError | undefined;
    kvmRuns++;
    try {
      status = await runWithKvm(vitest(KVM_PROJECTS, filters), { cwd: ROOT, env: { SCHEDVM_PROGRESS_FILE: progress } });
    } catch (e) {
      if (!(e instanceof SandboxStalledError)) throw e;
      stalled = e;
      status = 1;
    }
    // With the caller's own filters there is no telling which files are left: no restart.
    if (stalled && args.length > 0) throw stalled;
    const ended = readProgress(readOrEmpty(progress));
    const anyFailed = [...ended.values()].includes('failed');
    const remaining = args.length > 0 ? [] : listFiles(KVM_PROJECTS).filter((f) => !ended.has(f));
    // Every file ended: their verdicts decide (a stall after the last one changes nothing).
    if (remaining.length === 0) return anyFailed ? 1 : stalled ? 0 : status;
    if (status === 0) return anyFailed ? 1 : 0;
    const why = stalled?.message ?? `the sandbox's vitest exited with ${status}`;
    if (attempt >= RESTARTS) {
      process.stderr.write(`schedvm test: ${why}; ${remaining.length} test files never ran after ${RESTARTS} restarts\n`);
      return status;
    }
    process.stderr.write(
      `schedvm test: ${why}\nschedvm test: ${ended.size} test files had ended; restarting the sandbox for the ${remaining.length} left: ` +
        `${remaining.map((f) => relative(ROOT, f)).join(', ')}\n`,
    );
    filters = remaining.map((f) => relative(ROOT, f));
  }
}

/**
 * In the sandbox only, the files that failed get one more run in a fresh sandbox VM: nested
 * emulation now and then leaves a guest stalled for many minutes (see README, troubleshooting),
 * which a fresh VM does not repeat. A file that fails twice fails the run; one that passes on
 * its rerun is named, so the flake stays visible.
 */
async function rerunFailedOnce(firstStatus: number, args: string[], progress: string): Promise<number> {
  const failed = failedFiles(readOrEmpty(progress)).map((file) => relative(ROOT, file));
  if (firstStatus === 0 || args.length > 0 || failed.length === 0 || !shouldUseSandbox()) return firstStatus;
  process.stderr.write(`schedvm test: ${failed.length} test files failed in the sandbox; running them once more in a fresh one: ${failed.join(', ')}\n`);
  const status = await runKvmProjects(failed, progress);
  const ended = readProgress(readOrEmpty(progress));
  const recovered = failed.filter((f) => ended.get(join(ROOT, f)) === 'passed');
  if (recovered.length) process.stderr.write(`schedvm test: passed on their second run (flaky under emulation): ${recovered.join(', ')}\n`);
  return status;
}

export async function main(args: string[]): Promise<number> {
  const unit = await runHere(vitest(['unit', 'host'], args));
  const dir = mkdtempSync(join(tmpdir(), 'schedvm-test-'));
  const progress = join(dir, 'progress');
  let kvm: number;
  try {
    kvm = await rerunFailedOnce(await runKvmProjects(args, progress), args, progress);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const where = shouldUseSandbox() ? `in the sandbox, ${kvmRuns} ${kvmRuns === 1 ? 'VM' : 'VMs'}` : "on this host's /dev/kvm";
  process.stderr.write(`schedvm test: unit+host ${unit === 0 ? 'passed' : 'FAILED'}, kvm+examples ${kvm === 0 ? 'passed' : 'FAILED'} (${where})\n`);
  return unit === 0 && kvm === 0 ? 0 : 1;
}

// `schedvm test` (what `npm test` runs): the unit and host projects here, the kvm and examples
// projects wherever /dev/kvm works (this host, or the sandbox: one sandbox run for both).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runWithKvm } from '../sandbox/index.ts';
import { SandboxStalledError } from '../sandbox/run-in-vm.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VITEST = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
const KVM_PROJECTS = ['kvm', 'examples'];
/** Sandbox restarts after a stall (each reruns only the files not finished). */
const STALL_RESTARTS = 3;

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

/** `passed|failed|skipped <file>` lines the slow reporter appended (SCHEDVM_PROGRESS_FILE). */
export function readProgress(text: string): Map<string, string> {
  const ended = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(\w+) (.+)$/.exec(line);
    if (m) ended.set(m[2]!, m[1]!);
  }
  return ended;
}

/**
 * The kvm and examples projects through runWithKvm. A sandbox VM that stalls (QEMU TCG can
 * livelock under a nested guest) is killed by its heartbeat watchdog; then the files that had
 * not ended run again in a fresh one, at most STALL_RESTARTS times. Files that ended keep
 * their verdict.
 */
async function runKvmProjects(args: string[]): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'schedvm-test-'));
  const progress = join(dir, 'progress');
  try {
    let filters = args;
    for (let attempt = 0; ; attempt++) {
      try {
        const status = await runWithKvm(vitest(KVM_PROJECTS, filters), { cwd: ROOT, env: { SCHEDVM_PROGRESS_FILE: progress } });
        // A file that failed in an attempt a stall cut short fails the run too.
        const anyFailed = [...readProgress(read(progress)).values()].includes('failed');
        return status === 0 && anyFailed ? 1 : status;
      } catch (e) {
        // With the caller's own filters there is no telling which files are left: no restart.
        if (!(e instanceof SandboxStalledError) || attempt >= STALL_RESTARTS || args.length > 0) throw e;
        const ended = readProgress(read(progress));
        const remaining = listFiles(KVM_PROJECTS).filter((f) => !ended.has(f));
        process.stderr.write(
          `schedvm test: ${e.message}\nschedvm test: ${ended.size} test files had ended; restarting the sandbox for the ${remaining.length} left: ` +
            `${remaining.map((f) => relative(ROOT, f)).join(', ')}\n`,
        );
        if (remaining.length === 0) return [...ended.values()].includes('failed') ? 1 : 0;
        filters = remaining.map((f) => relative(ROOT, f));
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export async function main(args: string[]): Promise<number> {
  const unit = await runHere(vitest(['unit', 'host'], args));
  const kvm = await runKvmProjects(args);
  process.stderr.write(`schedvm test: unit+host ${unit === 0 ? 'passed' : 'FAILED'}, kvm+examples ${kvm === 0 ? 'passed' : 'FAILED'}\n`);
  return unit === 0 && kvm === 0 ? 0 : 1;
}

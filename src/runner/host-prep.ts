// Before a command enters the sandbox VM (which has no network), fetch and build on this host
// what its scenarios will need: Debian's sched_ext kernel, the kernel source, the schedulers,
// the kernel's BTF (the exit-kind watch's and the monitor's offsets), the kernel ELF the guests
// boot (unpacked from the bzImage) and the workload program.
// Builds run natively here instead of under TCG, and later runs find everything in the cache.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { kernelBootElf } from '../fixtures/kernels/boot-elf.ts';
import { type KernelSpec, kernelLabel, resolveKernel } from '../fixtures/kernels/index.ts';
import { gauntletOf } from './scenario/gauntlet.ts';
import { buildSchedulers } from '../fixtures/schedulers/build.ts';
import { kernelBtf } from '../fixtures/schedulers/vmlinux.ts';
import { buildWorkload } from '../fixtures/workload/build.ts';
import { loadScenario } from './scenario/load.ts';
import { workloadSpec } from './workload.ts';

/** Test files vitest would pick up (by name), skipping dependencies, VCS data and artifacts. */
const TEST_FILE = /\.(test|spec)\.[cm]?[jt]sx?$/;
const SKIP_DIRS = new Set(['node_modules', '.git', '.schedvm-artifacts', '.scratch', 'dist']);
/** vitest options whose next word is their value, not a file filter. */
const VALUE_OPTIONS = new Set([
  '--project',
  '--shard',
  '-t',
  '--testNamePattern',
  '--reporter',
  '--config',
  '-c',
  '--root',
  '-r',
  '--dir',
  '--outputFile',
  '--environment',
  '--pool',
  '--maxWorkers',
  '--exclude',
  '--mode',
]);
const DOCBLOCK_OPTIONS = /@vitest-environment-options\s+(\{[^\n]*\})/;

/**
 * The scenario files a command will boot, as far as its words tell: `*.yaml` arguments (schedvm
 * run), else the `scenario` docblock option (and the scenario files named in the text) of every
 * test file under `cwd` whose path contains one of the command's other words (vitest's file filters are substrings; with none, every file).
 * Over-inclusion only costs preparation time; the command itself still fails clearly on what is
 * missing.
 */
export function scenariosOfCommand(argv: string[], cwd: string): string[] {
  const yaml = argv
    .filter((a) => /\.ya?ml$/.test(a))
    .map((a) => resolve(cwd, a))
    .filter((f) => existsSync(f));
  if (yaml.length > 0) return yaml;
  if (!argv.some((a) => /vitest/.test(a))) return [];
  const words = argv.slice(1).filter((a, i, rest) => !a.startsWith('-') && !VALUE_OPTIONS.has(rest[i - 1] ?? '') && !/vitest|^run$|^node$/.test(a));
  const files = testFiles(cwd).filter((f) => {
    const rel = relative(cwd, f);
    return words.length === 0 || words.some((w) => rel.includes(w));
  });
  const scenarios = new Set<string>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const json = DOCBLOCK_OPTIONS.exec(text.slice(0, 4096))?.[1];
    if (json) {
      try {
        const scenario = (JSON.parse(json) as { scenario?: unknown }).scenario;
        if (typeof scenario === 'string' && existsSync(resolve(cwd, scenario))) scenarios.add(resolve(cwd, scenario));
      } catch {
        // Not JSON: vitest reports that itself when it runs the file.
      }
    }
    for (const named of namedScenarios(text, cwd)) scenarios.add(named);
  }
  return [...scenarios];
}

/**
 * Scenario files a test loads by name ('scenarios/sched/x.yaml' in its text), that parse: a
 * broken one is a test's own subject, not something to prepare.
 */
function namedScenarios(text: string, cwd: string): string[] {
  return [...text.matchAll(/['"`]([\w./-]+\.ya?ml)['"`]/g)].flatMap((m) => {
    const path = resolve(cwd, m[1]!);
    if (!existsSync(path)) return [];
    try {
      loadScenario(path);
      return [path];
    } catch {
      return [];
    }
  });
}

function testFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name)) testFiles(join(dir, entry.name), out);
    } else if (TEST_FILE.test(entry.name)) out.push(join(dir, entry.name));
  }
  return out;
}

/** One thing made ready, for the log. */
export interface Prepared {
  what: string;
  ms: number;
}

/**
 * Fetches each scenario's kernel, builds its named schedulers, extracts the kernel's BTF where a
 * scheduler or the monitor needs offsets from it, and builds the workload program, on this host;
 * resolves to what was done. Both were made under the sandbox's TCG before: on a fresh machine
 * the first lifecycle case ran past 630 s there, against 147-160 s with a warm cache.
 */
export async function prepareScenariosOnHost(files: string[], log: (line: string) => void): Promise<Prepared[]> {
  const needs = new Map<string, { spec: KernelSpec; schedulers: Set<string>; btf: boolean }>();
  let workload = false;
  for (const file of files) {
    for (const { scenario: s } of gauntletOf(loadScenario(file))) {
      if (s.kernel === undefined) continue;
      const label = kernelLabel(s.kernel);
      const need = needs.get(label) ?? { spec: s.kernel, schedulers: new Set<string>(), btf: false };
      if (s.scheduler?.name !== undefined) need.schedulers.add(s.scheduler.name);
      for (const st of s.steps ?? []) if (st.replace_scheduler) need.schedulers.add(st.replace_scheduler.name);
      need.btf ||= s.scheduler !== undefined || s.monitor !== undefined;
      workload ||= workloadSpec(s) !== undefined; // a scheduler runs the program by default
      needs.set(label, need);
    }
  }
  const done: Prepared[] = [];
  // Each item on its own: one that fails here (a kernel without BTF, no gcc) is logged, fails
  // inside with its own clear error if the run needs it, and the rest is still made ready.
  const timed = async (what: () => string, work: () => Promise<unknown>): Promise<boolean> => {
    const t0 = Date.now();
    try {
      await work();
    } catch (e) {
      log(`warning: could not prepare ${what()} on the host: ${(e as Error).message.split('\n')[0]}`);
      return false;
    }
    done.push({ what: what(), ms: Date.now() - t0 });
    return true;
  };
  for (const [label, need] of needs) {
    let kernel: Awaited<ReturnType<typeof resolveKernel>> | undefined;
    const named = () => (kernel ? `kernel ${label} (${kernel.version})` : `kernel ${label}`);
    if (!(await timed(named, async () => (kernel = await resolveKernel(need.spec, { log }))))) continue;
    const k = kernel!;
    if (process.arch === 'x64')
      await timed(
        () => `boot ELF of ${k.version}`,
        async () => {
          const elf = await kernelBootElf(k);
          if ('note' in elf) throw new Error(elf.note);
        },
      );
    if (need.schedulers.size > 0)
      await timed(
        () => `schedulers ${[...need.schedulers].join(', ')} for ${k.version}`,
        () => buildSchedulers(k, [...need.schedulers]),
      );
    if (need.btf)
      await timed(
        () => `BTF of ${k.version}`,
        () => kernelBtf(k),
      );
  }
  if (workload)
    await timed(
      () => 'workload program',
      () => buildWorkload(),
    );
  return done;
}

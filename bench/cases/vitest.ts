// Cases 4 and 6: whole `vitest run` processes over bench/vitest files, timed from spawn to
// exit, with their CPU (user + system of vitest and its workers).
import { fileURLToPath } from 'node:url';
import { buildInstalled } from '../installed.ts';
import { run, type Finished } from '../proc.ts';
import { caseResult, interleave, type CaseResult, type Where } from '../stats.ts';

const VITEST = fileURLToPath(new URL('../../node_modules/vitest/vitest.mjs', import.meta.url));
const CONFIG = fileURLToPath(new URL('../vitest/vitest.config.ts', import.meta.url));
const INSTALLED_CONFIG = fileURLToPath(new URL('../vitest/installed.config.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

async function vitest(files: string[], workers: number, config = CONFIG): Promise<Finished> {
  // SCHEDVM_SANDBOX=never: these run on whatever /dev/kvm this phase has (PVM included).
  const r = await run(
    process.execPath,
    [VITEST, 'run', '--config', config, `--maxWorkers=${workers}`, ...(workers === 1 ? ['--no-file-parallelism'] : []), ...files.map((f) => `bench/vitest/${f}.bench-test.ts`)],
    {
      cwd: ROOT,
      env: { ...process.env, SCHEDVM_SANDBOX: 'never' },
    },
  );
  if (r.code !== 0) throw new Error(`vitest ${files.join(' ')} exited ${r.code}:\n${(r.stdout + r.stderr).slice(-3000)}`);
  return r;
}

/**
 * Case 4: a file in the schedvm environment against the same guest booted by hand in a
 * node-environment file, both on schedvm as a user installs it (dist/, built first): from the
 * checkout's TypeScript, vite's transform of the runner's modules would be most of the figure.
 */
export async function testFileOverhead(rounds: number, where: Where): Promise<CaseResult> {
  await buildInstalled();
  const s = await interleave(
    rounds,
    () => vitest(['env-hello'], 1, INSTALLED_CONFIG),
    () => vitest(['node-hello'], 1, INSTALLED_CONFIG),
  );
  const ours = s.ours.map((r) => r.wallMs);
  const ref = s.reference.map((r) => r.wallMs);
  const delta = [...ours].sort((a, b) => a - b)[ours.length >> 1]! - [...ref].sort((a, b) => a - b)[ref.length >> 1]!;
  return caseResult({
    name: 'test-file overhead: `vitest run` of one file booting hello, schedvm as installed (dist/)',
    unit: 'ms',
    environment: where,
    ours,
    reference: { name: 'same guest via Vm in a node-environment file', samples: ref },
    note: `the environment's own cost per file (setup + teardown beyond the guest run): ${delta.toFixed(0)} ms, the difference of the medians`,
  });
}

/** Case 6: K files (20k-exit guest each) on K workers against the same K files one at a time. */
export async function scale(rounds: number, where: Where, k: number): Promise<CaseResult[]> {
  const files = Array.from({ length: k }, (_, i) => `scale-${i + 1}`);
  const s = await interleave(
    rounds,
    () => vitest(files, k),
    () => vitest(files, 1),
  );
  const name = (what: string) => `scale: ${k} test file${k > 1 ? 's' : ''} in parallel, ${what}`;
  const figures = [
    ['wall', 'wallMs'],
    ['total CPU', 'cpuMs'],
  ] as const;
  return figures.map(([what, field]) =>
    caseResult({
      name: name(what),
      unit: 'ms',
      environment: where,
      ours: s.ours.map((r) => r[field]),
      reference: { name: `same ${k} files, one worker`, samples: s.reference.map((r) => r[field]) },
    }),
  );
}

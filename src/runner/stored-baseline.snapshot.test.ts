// toMatchBaseline through vitest's own snapshot machinery, in a vitest of its own over a
// scratch test file: the first run stores the baseline, a regression fails naming it (and
// leaves the stored one alone), a missing baseline fails under --update=none (as in CI), and
// -u accepts the new run.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, test } from 'vitest';

const exec = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const vitestBin = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
const dir = mkdtempSync(join(tmpdir(), 'schedvm-baseline-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A scenario result as the environment gives it, with the victim group's rounds from VICTIM_ROUNDS.
writeFileSync(
  join(dir, 'sched.test.ts'),
  `
import { expect, test } from 'vitest';
import { parseWorkload } from ${JSON.stringify(join(here, '../fixtures/workload/metrics.ts'))};
import ${JSON.stringify(join(here, 'matchers.ts'))};

const workload = parseWorkload([
  'schedvm-wl: thread victim 0 cpu_ns=1000000000 rounds=' + process.env.VICTIM_ROUNDS + ' max_gap_ns=30000000',
  'schedvm-wl: cpu 0 busy_permille=990',
  'schedvm-wl: done elapsed_ns=5000000000',
].join('\\n'));
test('my scheduler keeps its baseline', () => {
  expect({ scenario: 'mine', exitAction: 'Shutdown', console: {}, workload }).toMatchBaseline();
});
`,
);
const snapFile = join(dir, '__snapshots__', 'sched.test.ts.snap');

async function vitest(rounds: number, update: string) {
  const env = { ...process.env, VICTIM_ROUNDS: String(rounds) };
  return exec(process.execPath, [vitestBin, 'run', '--root', dir, `--update=${update}`, 'sched.test.ts'], { cwd: dir, env }).then(
    (o) => ({ code: 0, out: o.stdout + o.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
  );
}

describe('toMatchBaseline with vitest snapshots', () => {
  test('stores, compares within tolerance, fails a regression, and -u accepts', async () => {
    let r = await vitest(1000, 'none');
    expect(r.code, r.out).not.toBe(0); // CI: no stored baseline is a failure
    r = await vitest(1000, 'new');
    expect(r.code, r.out).toBe(0);
    const stored = readFileSync(snapFile, 'utf8');
    expect(stored).toContain('group victim rounds_per_s=200 max_gap_ms=30');
    r = await vitest(900, 'none'); // 10% fewer rounds: within the default 30%
    expect(r.code, r.out).toBe(0);
    r = await vitest(500, 'none');
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('mine regressed against its stored baseline (accept this run with vitest -u)');
    expect(r.out).toContain('group victim: rounds per second 100 is below 140 (stored 200)');
    expect(readFileSync(snapFile, 'utf8')).toBe(stored);
    r = await vitest(500, 'all');
    expect(r.code, r.out).toBe(0);
    expect(readFileSync(snapFile, 'utf8')).toContain('group victim rounds_per_s=100');
  }, 120_000);
});

// The schedvm environment end to end, as a user sees it: a child vitest runs test files that
// fail on purpose (src/runner/testdata/plugin), and this checks the report, the artifacts,
// and that nothing outlives the run: no process, after a failure, a timeout or Ctrl-C.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const VITEST = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
const CONFIG = 'src/runner/testdata/plugin/vitest.config.ts';
const ARTIFACTS = join(ROOT, '.schedvm-artifacts/plugin-fixture');

/** Processes (other than ours) whose environment carries `tag`: the child run's leftovers. */
function processesTagged(tag: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/environ`, 'latin1').includes(tag);
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
}

function childEnv(tag: string, extra: Record<string, string> = {}) {
  return { ...process.env, CI: '1', FORCE_COLOR: '0', SCHEDVM_LEAK_TAG: tag, ...extra };
}

describe('schedvm environment, end to end', () => {
  it('reports failures with exit, snapshots and console, saves artifacts, stops a timed-out VM', () => {
    rmSync(ARTIFACTS, { recursive: true, force: true });
    const tag = `schedvm-leak-${randomBytes(6).toString('hex')}`;
    const t0 = performance.now();
    // One file at a time: vitest gives a fork 60 s to start, and two starting at once on the
    // sandbox's single emulated CPU, beside a busy host, once took longer (CI, 2026-12-04).
    const r = spawnSync(process.execPath, [VITEST, 'run', '--config', CONFIG, '--no-file-parallelism', 'failing.fixture', 'timeout.fixture'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: childEnv(tag),
      timeout: 550_000,
    });
    const out = stripVTControlCharacters(`${r.stdout}\n${r.stderr}`);
    expect(r.status, out).toBe(1);
    // Without teardown the spinning VM would hold its worker for its hour-long timeout.
    expect(performance.now() - t0).toBeLessThan(500_000);
    expect(out).toContain('Tests  3 failed | 1 passed (4)');

    expect(out).toContain('expected hello to exit with Timeout, it exited with Shutdown');
    expect(out).toMatch(/exit: Shutdown after \d+ ms\nsnapshots: none\nconsole \(COM1, last 30 lines\):\n {2}\| Hello from schedvm!/);
    expect(out).toMatch(/_start \[0x100000, 0x100001\); 0 of 0 matching snapshots are there\n\nexit: Timeout after \d+ ms\nsnapshots:\n {2}vcpu \d \[timeout\] ip=0x0000000000100001 sp=/);
    expect(out).toMatch(/Test timed out in 3000ms/);

    const wrongExit = join(ARTIFACTS, 'src/runner/testdata/plugin/failing.fixture.ts/expects_the_wrong_exit_action');
    expect(out).toContain(`schedvm: artifacts of failed test "expects the wrong exit action": .schedvm-artifacts/plugin-fixture/`);
    expect(readFileSync(join(wrongExit, 'console.log'), 'utf8')).toBe('Hello from schedvm!\n');
    expect(JSON.parse(readFileSync(join(wrongExit, 'result.json'), 'utf8'))).toMatchObject({ scenario: 'hello', exitAction: 'Shutdown' });
    expect(readFileSync(join(wrongExit, 'errors.txt'), 'utf8')).toContain('expected hello to exit with Timeout');
    const spun = join(ARTIFACTS, 'src/runner/testdata/plugin/timeout.fixture.ts/times_out_while_the_VM_spins');
    expect(JSON.parse(readFileSync(join(spun, 'result.json'), 'utf8'))).toMatchObject({ state: 'running', scenario: 'spin-forever' });

    expect(processesTagged(tag)).toEqual([]);
  });

  it('SIGINT to vitest alone while a VM runs (its worker orphaned): nothing is left behind', async () => {
    const tag = `schedvm-leak-${randomBytes(6).toString('hex')}`;
    const mark = join(tmpdir(), `${tag}.mark`);
    const child = spawn(process.execPath, [VITEST, 'run', '--config', CONFIG, 'timeout.fixture', '--testTimeout', '600000'], {
      cwd: ROOT,
      env: childEnv(tag, { SCHEDVM_FIXTURE_MARK: mark }),
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = performance.now() + 300_000;
    while (!existsSync(mark) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(existsSync(mark), 'the fixture never started its VM').toBe(true);
    rmSync(mark);
    child.kill('SIGINT');
    const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 120_000))]);
    expect(code).not.toBe('hung');
    for (let i = 0; i < 50 && processesTagged(tag).length > 0; i++) await new Promise((r) => setTimeout(r, 200));
    expect(processesTagged(tag)).toEqual([]);
  });
});

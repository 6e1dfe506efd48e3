import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/schedvm.mjs', import.meta.url));

function schedvm(...args: string[]) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 600_000 });
  return { ...r, ms: performance.now() - t0 };
}
const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!);

describe('schedvm run', () => {
  it('hello: console streamed, result JSON as the last stdout line, exit 0', () => {
    const r = schedvm('run', 'scenarios/bare/hello.yaml', '--json');
    expect(r.status).toBe(0);
    expect(r.stdout.startsWith('Hello from schedvm!\n')).toBe(true);
    const result = lastJson(r.stdout);
    expect(result.exitAction).toBe('Shutdown');
    expect(result.console.com1).toBe('Hello from schedvm!\n');
    expect(r.stderr).toMatch(/hello: Shutdown after \d+ ms, expected Shutdown: pass/);
  });

  it('spin with --timeout 3 ends as Timeout and returns soon after the deadline', () => {
    const r = schedvm('run', 'scenarios/bare/spin.yaml', '--timeout', '3', '--json');
    expect(lastJson(r.stdout).exitAction).toBe('Timeout');
    expect(r.status).toBe(0); // the scenario expects Timeout
    // The deadline holds; node/tsx start-up (seconds when emulated) comes on top.
    expect(lastJson(r.stdout).wallMs).toBeLessThan(3000 + 5000);
  });

  it('exits 1 when the exit action is not the expected one', () => {
    const r = schedvm('run', 'src/cli/testdata/hello-expects-timeout.yaml');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/hello-expects-timeout: Shutdown after \d+ ms, expected Timeout: FAIL/);
  });
});

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/schedvm.mjs', import.meta.url));
const schedvm = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });

// Errors caught before any VM exists: no KVM needed.
describe('schedvm run: bad input', () => {
  it('reports a broken scenario with its location, without a stack trace', () => {
    const r = schedvm('run', 'src/cli/testdata/bad-vcpus.yaml');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('src/cli/testdata/bad-vcpus.yaml:3:8: vcpus: ');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('rejects a bad --timeout', () => {
    const r = schedvm('run', 'scenarios/bare/hello.yaml', '--timeout', 'soon');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("--timeout: expected a positive number of seconds, got 'soon'");
  });

  it('prints usage for a missing scenario', () => {
    const r = schedvm('run');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('usage: schedvm run <scenario.yaml>');
  });
});

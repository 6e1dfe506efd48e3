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

describe('schedvm run: a gauntlet boots the entry --entry names', () => {
  it('picks the entry by its test name, and says which names there are otherwise', async () => {
    const { gauntletEntry } = await import('./run.ts');
    const { parseScenario } = await import('../runner/scenario/load.ts');
    const g = parseScenario('name: g\nkernels: [host, debian-sched-ext]\ntopologies: [1n1l2c1t, 1n2l1c1t]\n', 'g.yaml');
    expect(gauntletEntry('g.yaml', g, 'debian-sched-ext/1n2l1c1t')).toMatchObject({ kernel: 'debian-sched-ext', vcpus: 2, name: 'g/debian-sched-ext/1n2l1c1t' });
    expect(() => gauntletEntry('g.yaml', g, undefined)).toThrow(
      'g.yaml is a gauntlet of 4 VMs (host/1n1l2c1t, host/1n2l1c1t, debian-sched-ext/1n1l2c1t, debian-sched-ext/1n2l1c1t): pick one with --entry <name>',
    );
    expect(() => gauntletEntry('g.yaml', g, 'host')).toThrow("--entry: g.yaml has no entry 'host': expected one of host/1n1l2c1t");
    expect(() => gauntletEntry('p.yaml', parseScenario('name: p\nguest: hello\n', 'p.yaml'), 'x')).toThrow('--entry: p.yaml is no gauntlet');
  });
});

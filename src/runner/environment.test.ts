// What a user sees when a test file cannot even start: a broken scenario, a typo in the
// environment options, no environment at all. No VM boots in any of these, so no KVM needed.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const VITEST = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
const CONFIG = 'src/runner/testdata/plugin/vitest.config.ts';

let out = '';
let noKvmOut = '';
const childVitest = (files: string[], env: Record<string, string> = {}) => {
  const r = spawnSync(process.execPath, [VITEST, 'run', '--config', CONFIG, ...files], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, CI: '1', FORCE_COLOR: '0', ...env },
    timeout: 120_000,
  });
  const text = stripVTControlCharacters(`${r.stdout}\n${r.stderr}`);
  expect(r.status, text).toBe(1);
  return text;
};
/** The report block of one file: from its FAIL line to the next separator. */
const failureOf = (file: string) => {
  const start = out.indexOf(` FAIL  src/runner/testdata/plugin/${file}`);
  expect(start, out).toBeGreaterThanOrEqual(0);
  return out.slice(start, out.indexOf('⎯⎯⎯', start));
};

describe('the schedvm environment before any VM', () => {
  beforeAll(() => {
    out = childVitest(['broken-scenario', 'bad-options', 'no-environment', 'broken-gauntlet']);
    noKvmOut = childVitest(['no-kvm'], { SCHEDVM_SANDBOX: 'force' });
  }, 250_000);

  it('fails the file of a broken scenario with its located message, no stack', () => {
    const f = failureOf('broken-scenario.fixture.ts');
    expect(f).toContain('ScenarioError: src/runner/scenario/testdata/broken/vcpus-zero.yaml:4:8: vcpus: Too small');
    expect(f).not.toMatch(/^\s+(at |❯ )/m);
  });

  it('fails the file of a broken gauntlet the same way', () => {
    const f = failureOf('broken-gauntlet.fixture.ts');
    expect(f).toContain('topologies-twice.yaml:4:24: topologies.1: 1n1l2c1t is listed twice');
    expect(f).not.toMatch(/^\s+(at |❯ )/m);
  });

  it('names an unknown environment option', () => {
    expect(failureOf('bad-options.fixture.ts')).toContain('schedvm environment options: scenarios: unknown option (known: scenario, console, artifacts)');
  });

  it('without a usable /dev/kvm, says how to run through the sandbox instead of booting', () => {
    expect(noKvmOut).toContain('UserError: no usable /dev/kvm here');
    expect(noKvmOut).toContain('`npx schedvm sandbox -- npx vitest run ...`');
    expect(noKvmOut).toContain('Test Files  1 failed (1)');
  });

  it('says how to select the environment when a file lacks it', () => {
    expect(out).toContain("this test file does not run in the schedvm environment: add '// @vitest-environment schedvm'");
  });
});

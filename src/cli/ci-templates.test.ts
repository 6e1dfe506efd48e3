// The CI templates a user copies (examples/ci/): valid YAML of the right shape, and every
// command they run is real: schedvm's commands exist, vitest takes the flags as written
// (run in an empty project), the Debian packages are the ones schedvm needs.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_ARTIFACTS_DIR } from '../runner/options.ts';
import { commands } from './commands.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const read = (f: string) => readFileSync(join(ROOT, 'examples/ci', f), 'utf8');
/** What the schedvm tests of this repository need beyond a user's: disk images and host programs for its own scenarios. */
const MAINTAINER_ONLY = ['e2fsprogs', 'stress-ng', 'rt-tests'];

function bootstrapPackages(): string[] {
  const text = readFileSync(join(ROOT, 'scripts/bootstrap.mjs'), 'utf8');
  const list = /DEBIAN_PACKAGES = \[([^\]]*)\]/.exec(text)![1]!.replace(/\/\/.*$/gm, '');
  return [...list.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
}

/** The packages an `apt-get install ... <packages>` line names. */
const aptPackages = (line: string) =>
  line
    .replace(/^.*--no-install-recommends\s+/s, '')
    .split(/\s+/)
    .filter(Boolean);

/** `npx schedvm sandbox -- npx vitest run ...`: the schedvm command and vitest's arguments (shard variables as 1/2). */
function testCommand(line: string): { schedvm: string; vitest: string[] } {
  const m = /^npx schedvm (\S+) -- npx vitest (.*)$/.exec(line.trim());
  expect(m, line).not.toBeNull();
  return { schedvm: m![1]!, vitest: m![2]!.replace(/--shard=\S+/, '--shard=1/2').split(/\s+/) };
}

const projects: string[] = [];
afterAll(() => {
  for (const d of projects) rmSync(d, { recursive: true, force: true });
});

/** Runs vitest with `args` in an empty project: it must take every flag and write the JUnit report. */
function vitestTakes(args: string[], junit: string): void {
  const dir = mkdtempSync(join(tmpdir(), 'schedvm-ci-'));
  projects.push(dir);
  writeFileSync(join(dir, 'vitest.config.mjs'), 'export default {};\n');
  execFileSync(process.execPath, [join(ROOT, 'node_modules/vitest/vitest.mjs'), ...args, '--passWithNoTests'], { cwd: dir, stdio: 'pipe', env: { ...process.env, CI: 'true' } });
  expect(existsSync(join(dir, junit))).toBe(true);
}

describe('examples/ci/github-actions.yml', () => {
  const wf = parse(read('github-actions.yml'));
  const job = wf.jobs.schedvm;
  const steps: Array<{ run?: string; uses?: string; if?: string; with?: Record<string, string> }> = job.steps;
  const run = steps.find((s) => s.run?.includes('npx schedvm'))!.run!;

  it('shards the tests over a matrix, on hardware KVM in its container', () => {
    expect(wf.on).toEqual(['push', 'pull_request']);
    expect(job.strategy.matrix.shard.length).toBeGreaterThanOrEqual(2);
    expect(job.container.options).toBe('--device /dev/kvm');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub Actions expression
    expect(run).toContain('--shard=${{ matrix.shard }}/${{ strategy.job-total }}');
  });

  it('runs a schedvm command that exists, and vitest flags vitest takes', () => {
    const { schedvm, vitest } = testCommand(run);
    expect(Object.keys(commands)).toContain(schedvm);
    vitestTakes(vitest, 'reports/junit.xml');
  }, 60_000);

  it("uploads the JUnit report always, and the failed tests' artifacts on failure", () => {
    const uploads = steps.filter((s) => s.uses?.startsWith('actions/upload-artifact@'));
    expect(uploads.map((s) => [s.if, s.with!.path])).toEqual([
      ['always()', 'reports/junit.xml'],
      ['failure()', `${DEFAULT_ARTIFACTS_DIR}/`],
    ]);
  });

  it('installs the Debian packages schedvm needs', () => {
    const apt = steps.find((s) => s.run?.includes('apt-get install'))!.run!;
    expect(aptPackages(apt).sort()).toEqual(
      bootstrapPackages()
        .filter((p) => !MAINTAINER_ONLY.includes(p))
        .sort(),
    );
  });
});

describe('examples/ci/gitlab-ci.yml', () => {
  const job = parse(read('gitlab-ci.yml')).schedvm;
  const run: string = job.script.find((l: string) => l.includes('npx schedvm'));

  it('shards the tests over parallel jobs', () => {
    expect(job.parallel).toBeGreaterThanOrEqual(2);
    expect(run).toContain('--shard=$CI_NODE_INDEX/$CI_NODE_TOTAL');
  });

  it('runs a schedvm command that exists, and vitest flags vitest takes', () => {
    const { schedvm, vitest } = testCommand(run);
    expect(Object.keys(commands)).toContain(schedvm);
    vitestTakes(vitest, job.artifacts.reports.junit);
  }, 60_000);

  it("reports JUnit and keeps the failed tests' artifacts", () => {
    expect(job.artifacts.when).toBe('always');
    expect(job.artifacts.paths).toEqual([`${DEFAULT_ARTIFACTS_DIR}/`]);
    expect(run).toContain(`--outputFile.junit=${job.artifacts.reports.junit}`);
  });

  it('installs the Debian packages schedvm needs', () => {
    const apt: string = job.before_script.find((l: string) => l.includes('apt-get install'));
    expect(aptPackages(apt).sort()).toEqual(
      bootstrapPackages()
        .filter((p) => !MAINTAINER_ONLY.includes(p))
        .sort(),
    );
  });
});

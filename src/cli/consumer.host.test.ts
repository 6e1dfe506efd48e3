// What a scheduler developer does with schedvm, as README's install section says: the packed
// tarballs installed into a new project (npm with vitest 4.1.12, pnpm from the npm registry with
// 4.1.3: the peer range's ends), a strict tsc over the project, `schedvm init`, and the
// project's own tests, a bare-metal one and a Linux one, through `schedvm sandbox` (the host's
// /dev/kvm where it works). Needs the npm registry: a host test.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify, stripVTControlCharacters } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './test.ts';

const ENV_PACKAGE = join(ROOT, 'packages', 'vitest-environment-schedvm');
/** The ends of package.json's vitest peer range (~4.1.3) when this was written. */
const VITEST_NEWEST = '4.1.12';
const VITEST_OLDEST = '4.1.3'; // the first with `Snapshots` (domain snapshots: toMatchBaseline)
const PNPM = 'pnpm@10.34.8'; // pnpm 11 needs Node 22

/**
 * Runs a command; a failure throws with everything it printed. Asynchronous: a synchronous
 * spawn would block this worker, and vitest would see neither the test start nor its timeout.
 * Its own timeout or the test's (`signal`) interrupts it as Ctrl-C would: `schedvm sandbox`
 * then stops its QEMU and removes its job directory.
 */
function sh(cmd: string, args: string[], cwd: string, signal: AbortSignal, timeoutMs = 600_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd,
      signal,
      timeout: timeoutMs,
      killSignal: 'SIGINT',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, npm_config_update_notifier: 'false' },
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b));
    child.stderr.on('data', (b: Buffer) => (out += b));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      out = stripVTControlCharacters(out);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${code ?? signal}:\n${out.slice(-6000)}`));
    });
  });
}

/** `npm pack` of a package into `dest`: the tarball's path (prepack builds dist/ first). */
async function pack(dir: string, dest: string): Promise<string> {
  const { stdout } = await promisify(execFile)('npm', ['pack', '--json', '--pack-destination', dest], { cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20 });
  const [info] = JSON.parse(stdout) as Array<{ filename: string }>;
  return join(dest, info!.filename);
}

const STRICT_TSCONFIG = {
  compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] },
  include: ['schedvm'],
};

const BARE_SCENARIO = 'name: hello\nguest: hello\nmemory_mb: 16\ntimeout_s: 60\n';
const BARE_TEST = `// @vitest-environment schedvm
// @vitest-environment-options {"scenario": "schedvm/hello.yaml"}
import { expect, test } from 'schedvm';

test('a bare-metal guest greets on COM1 and shuts down', async ({ vm }) => {
  const result = await vm.run();
  expect(result).toExitWith('Shutdown');
  expect(result.console.com1).toBe('Hello from schedvm!\\n');
});
`;

/** A new project: package.json, the packages installed by `install`, a bare-metal test, a strict tsconfig. */
async function project(root: string, name: string, install: (dir: string) => Promise<unknown>): Promise<string> {
  const dir = join(root, name);
  mkdirSync(join(dir, 'schedvm'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, type: 'module' }, null, 2));
  await install(dir);
  writeFileSync(join(dir, 'schedvm', 'hello.yaml'), BARE_SCENARIO);
  writeFileSync(join(dir, 'schedvm', 'hello.test.ts'), BARE_TEST);
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(STRICT_TSCONFIG, null, 2));
  return dir;
}

describe('schedvm installed into a new project', () => {
  let root: string;
  let tarballs: string[];

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'schedvm-consumer-'));
    tarballs = [await pack(ROOT, root), await pack(ENV_PACKAGE, root)];
  }, 300_000);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("packs what a user needs (built JavaScript, declarations, guest and scheduler sources, the schema) and none of the repository's own", () => {
    const files = execFileSync('tar', ['-tzf', tarballs[0]!], { encoding: 'utf8' }).trim().split('\n');
    for (const f of [
      'package/bin/schedvm.mjs',
      'package/dist/runner/index.js',
      'package/dist/runner/index.d.ts',
      'package/dist/runner/environment.js',
      'package/dist/vmm/vcpu/pool-entry.mjs',
      'package/dist/vmm/vcpu/worker.js',
      'package/dist/fixtures/guests/hello.S',
      'package/dist/fixtures/schedulers/scx_fault/scx_fault.bpf.c',
      'package/dist/fixtures/workload/workload.c',
      'package/schema/scenario.schema.json',
    ])
      expect(files).toContain(f);
    expect(files.filter((f) => /\.test\.|testdata|testing|\/src\/|bench\/|\.ci\/|scripts\/|launch|dev-main|\.ts$/.test(f.replace(/\.d\.ts$/, '')))).toEqual([]);
    const pkg = JSON.parse(execFileSync('tar', ['-xzOf', tarballs[0]!, 'package/package.json'], { encoding: 'utf8' }));
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['koffi', 'tinypool', 'yaml', 'zod']);
    expect(pkg.peerDependencies).toEqual({ vitest: `~${VITEST_OLDEST}` });
    // The CLI and the vCPU thread are one file each: module by module they read ~210 files.
    // (esbuild writes its imports with double quotes; the CLI's init templates hold single-quoted ones.)
    for (const entry of ['package/dist/cli/main.js', 'package/dist/vmm/vcpu/worker.js']) {
      const imports = [
        ...execFileSync('tar', ['-xzOf', tarballs[0]!, entry], { encoding: 'utf8', maxBuffer: 64 << 20 }).matchAll(/^(?:import|export) (?:[^"'\n]* from )?"([^"]+)";$|\bimport\("([^"]+)"\)/gm),
      ].map((m) => m[1] ?? m[2]);
      expect(
        imports.filter((i) => !i!.startsWith('node:') && i !== 'koffi' && i !== 'tinypool'),
        entry,
      ).toEqual([]);
    }
  });

  it(`npm (vitest ${VITEST_NEWEST}): strict tsc passes; init's Linux test and a bare-metal test pass`, async ({ signal }) => {
    const dir = await project(root, 'with-npm', (d) =>
      sh('npm', ['install', '--no-audit', '--no-fund', '-D', ...tarballs, `vitest@${VITEST_NEWEST}`, 'typescript@~5.9.3', '@types/node@^20.19.0'], d, signal),
    );
    const init = await sh('npx', ['schedvm', 'init'], dir, signal);
    expect(init).toContain('wrote schedvm/scheduler.yaml');
    expect(readFileSync(join(dir, 'vitest.config.ts'), 'utf8')).toContain("include: ['schedvm/**/*.test.ts']");
    await sh('npx', ['tsc', '--noEmit', '-p', '.'], dir, signal);
    const out = await sh('npx', ['schedvm', 'sandbox', '--', 'npx', 'vitest', 'run'], dir, signal, 1_500_000);
    expect(out).toMatch(/Test Files\D+2 passed/);
    expect(out).toMatch(/Tests\D+3 passed/);
  }, 1_800_000);

  it(`pnpm (vitest ${VITEST_OLDEST}, strict node_modules): strict tsc passes; the bare-metal test passes`, async ({ signal }) => {
    const dir = await project(root, 'with-pnpm', (d) => sh('npx', ['--yes', PNPM, 'add', '-D', ...tarballs, `vitest@${VITEST_OLDEST}`, 'typescript@~5.9.3', '@types/node@^20.19.0'], d, signal));
    writeFileSync(join(dir, 'vitest.config.ts'), "import { defineConfig } from 'vitest/config';\nexport default defineConfig({ test: { include: ['schedvm/**/*.test.ts'], pool: 'forks' } });\n");
    await sh('npx', ['--yes', PNPM, 'exec', 'tsc', '--noEmit', '-p', '.'], dir, signal);
    const out = await sh('npx', ['--yes', PNPM, 'exec', 'schedvm', 'sandbox', '--', 'npx', 'vitest', 'run'], dir, signal, 900_000);
    expect(out).toMatch(/Test Files\D+1 passed/);
  }, 1_200_000);
});

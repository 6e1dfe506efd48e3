// The bundles the CLI and the vCPU threads load: built when a source changed, each module
// keeping its own location, and tsx when no bundle is wanted.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { BUNDLE_DIR, buildBundles, bundlesFresh, ENTRIES } from './bundle.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'bin', 'schedvm.mjs');
const scratch = mkdtempSync(join(tmpdir(), 'bundle-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function manifestFor(inputs: Record<string, string>, root = ROOT): string {
  const path = join(scratch, `manifest-${Math.random().toString(16).slice(2)}.json`);
  writeFileSync(path, JSON.stringify({ root, inputs }));
  return path;
}
const print = (p: string) => `${statSync(p).size}:${statSync(p).mtimeMs}`;

describe('bundlesFresh', () => {
  it('holds while every source is as it was, and not once one changed or went', () => {
    const src = join(scratch, 'a.ts');
    writeFileSync(src, 'export const a = 1;\n');
    const manifest = manifestFor({ [src]: print(src) });
    expect(bundlesFresh(manifest)).toBe(true);
    writeFileSync(src, 'export const a = 22;\n');
    expect(bundlesFresh(manifest)).toBe(false);
    rmSync(src);
    expect(bundlesFresh(manifestFor({ [src]: '1:1' }))).toBe(false);
  });

  it('is false for a bundle built in another checkout, or no manifest at all', () => {
    expect(bundlesFresh(manifestFor({}, '/elsewhere/schedvm/'))).toBe(false);
    expect(bundlesFresh(join(scratch, 'missing.json'))).toBe(false);
  });
});

describe('the bundles', () => {
  it('are built with a manifest naming every schedvm source they hold, and are fresh after', async () => {
    await buildBundles();
    expect(bundlesFresh()).toBe(true);
    const inputs = Object.keys(JSON.parse(readFileSync(join(BUNDLE_DIR, 'manifest.json'), 'utf8')).inputs as object);
    expect(inputs).toContain(ENTRIES.cli);
    expect(inputs).toContain(ENTRIES.worker);
    expect(inputs).toContain(join(ROOT, 'src', 'vmm', 'vcpu', 'pool.ts'));
  });

  it('are built by concurrent builders without one undoing the other (vCPU threads of one process build at once)', async () => {
    await Promise.all([buildBundles(), buildBundles()]);
    expect(bundlesFresh()).toBe(true);
  });

  it('keep each module at its own location (import.meta.url), so files beside it are found', () => {
    const cli = readFileSync(join(BUNDLE_DIR, 'cli.mjs'), 'utf8');
    const [banner, ...code] = cli.split('\n');
    expect(banner).toContain('createRequire'); // bundled CommonJS (yaml) requires node's built-ins
    expect(code.join('\n')).not.toContain('import.meta.url');
    expect(cli).toContain(JSON.stringify(new URL('../vmm/vcpu/pool.ts', import.meta.url).href));
    // Guest names come from the assembly files beside src/fixtures/guests/build.ts.
    const bad = join(scratch, 'bad.yaml');
    writeFileSync(bad, 'name: x\nguest: nosuchguest\n');
    const r = spawnSync(process.execPath, [CLI, 'validate', bad], { encoding: 'utf8', env: { ...process.env, SCHEDVM_BUNDLE: '1' } });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/guest: must be one of: .*hello, .*spin/);
  });

  it("carry zod's English messages only: its other locales were a quarter of the CLI bundle", () => {
    const cli = readFileSync(join(BUNDLE_DIR, 'cli.mjs'), 'utf8');
    expect(cli).toContain('Invalid input: expected'); // locales/en.js
    expect(cli).not.toContain('Input tidak valid'); // locales/id.js (ASCII: esbuild escapes other text)
  });

  it('stand in for tsx, which still loads the CLI when no bundle is wanted', () => {
    const scenario = join(ROOT, 'scenarios', 'bare', 'hello.yaml');
    for (const mode of ['1', '0']) {
      const out = execFileSync(process.execPath, [CLI, 'validate', scenario], { encoding: 'utf8', env: { ...process.env, SCHEDVM_BUNDLE: mode } });
      expect(out, `SCHEDVM_BUNDLE=${mode}`).toMatch(/^ok .*hello\.yaml/m);
    }
  });
});

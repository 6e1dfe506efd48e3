#!/usr/bin/env node
// `npm run build` (and `npm pack`): the package's JavaScript and declarations in dist/ (tsc with
// tsconfig.build.json), then the files the code finds beside its modules (guest assembly, the
// fault scheduler's and the workload's C, the vCPU threads' entry), in the
// same layout, so an installed schedvm runs no TypeScript loader and no bundler.
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(ROOT, 'src');
const DIST = join(ROOT, 'dist');

/** Source files that are no module: copied as they are. */
const ASSET = /\.(S|inc|c|h|json|mjs)$/;
/** Never shipped: this repository's tests, its launcher (dist needs none), its test timings. */
const SKIP = /(^|\/)(testdata|testing|launch)(\/|$)|kvm-durations\.json$/;

function assets(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (SKIP.test(relative(SRC, path))) return [];
    if (e.isDirectory()) return assets(path);
    return ASSET.test(e.name) ? [path] : [];
  });
}

rmSync(DIST, { recursive: true, force: true });
const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'inherit' });
const copied = assets(SRC);
for (const file of copied) cpSync(file, join(DIST, relative(SRC, file)));
process.stderr.write(`schedvm build: dist/ written (${copied.length} files beside the modules)\n`);

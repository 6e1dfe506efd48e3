#!/usr/bin/env node
// `npm run build` (and `npm pack`): the package's JavaScript and declarations in dist/ (tsc with
// tsconfig.build.json), then the files the code finds beside its modules (guest assembly, the
// fault scheduler's and the workload's C, the vCPU threads' entry), in the
// same layout, so an installed schedvm runs no TypeScript loader and no bundler. The two entries
// node loads itself, the CLI and the vCPU thread, are then each replaced by one bundle: module by
// module, the CLI reads about 210 files (zod and yaml included), which under the sandbox's TCG
// over 9p costs seconds per command and per vCPU thread.
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { sharedBuildOptions } from '../src/launch/bundle.mjs';

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

/** Bundled entries, as dist/ paths of the sources under src/. */
const BUNDLED = ['cli/main.ts', 'vmm/vcpu/worker.ts'];
for (const entry of BUNDLED) {
  const outfile = join(DIST, entry.replace(/\.ts$/, '.js'));
  // A module's import.meta.url: where its own .js sits in dist/, relative to the bundle, so the
  // files beside it are found wherever the package is installed.
  const metaUrl = (source) => {
    if (relative(SRC, source).startsWith('..')) throw new Error(`schedvm build: ${source} is outside src/: its import.meta.url has no place in dist/`);
    const own = relative(dirname(outfile), join(DIST, relative(SRC, source))).replace(/\.ts$/, '.js');
    return `new URL(${JSON.stringify(own)}, import.meta.url).href`;
  };
  // Warnings shown: an import esbuild could not follow would otherwise ship silently.
  await build({ ...sharedBuildOptions(metaUrl), logLevel: 'warning', entryPoints: [join(SRC, entry)], outfile, allowOverwrite: true, absWorkingDir: ROOT });
}
process.stderr.write(`schedvm build: dist/ written (${copied.length} files beside the modules; ${BUNDLED.join(', ')} bundled)\n`);

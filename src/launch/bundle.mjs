// How the CLI and the vCPU threads load schedvm's TypeScript (the vCPU pool resolves the
// threads' module once, src/vmm/vcpu/pool.ts). Through tsx every module costs a round trip to
// tsx's loader thread and a file read: about 0.3 s for the CLI on a host, but 10 s and more
// under the sandbox's TCG over 9p, paid again by every vCPU thread. So the
// two entry points are bundled by esbuild into one file each, rebuilt whenever a source
// file changed (no build step to forget), and tsx is the fallback. Plain JavaScript: it runs
// before anything can load TypeScript.
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Inside node_modules, so the bundles' bare imports (koffi, zod, ...) resolve as the sources' do. */
export const BUNDLE_DIR = join(ROOT, 'node_modules', '.cache', 'schedvm-bundle');
const MANIFEST = join(BUNDLE_DIR, 'manifest.json');

/** The bundled entry points, by name. */
export const ENTRIES = {
  cli: join(ROOT, 'src', 'cli', 'main.ts'),
  worker: join(ROOT, 'src', 'vmm', 'vcpu', 'worker.ts'),
  dev: join(ROOT, 'src', 'cli', 'dev-main.ts'),
};

/**
 * Packages that stay outside the bundles: native code (koffi), files found beside their own
 * modules (tinypool's worker entry), and the tools themselves. zod and yaml are bundled: loaded
 * file by file they cost seconds in the sandbox.
 */
const EXTERNAL = ['koffi', 'tinypool', 'vitest', 'vitest/*', 'tsx', 'tsx/*', 'esbuild'];

/** Size and mtime of each source a bundle was built from; a bundle is fresh while none changed. */
function fingerprint(path) {
  const s = statSync(path);
  return `${s.size}:${s.mtimeMs}`;
}

/** Whether the bundles on disk were built from the sources as they are now. */
export function bundlesFresh(manifestPath = MANIFEST) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  } catch {
    return false;
  }
  if (manifest.root !== ROOT) return false;
  try {
    return Object.entries(manifest.inputs).every(([path, print]) => fingerprint(path) === print);
  } catch {
    return false; // a source was removed
  }
}

/** esbuild's namespace of the module standing in for zod's locales (sharedBuildOptions). */
const ZOD_EN = 'zod-en';

/**
 * esbuild options both kinds of bundle share: this checkout's (below) and the package's
 * (scripts/build.mjs). Each source keeps its own import.meta.url, so the code finds files beside
 * it (guest assembly, pool-entry.mjs, the README) and resolves packages from where it lives:
 * `metaUrl(sourcePath)` gives the expression that replaces it.
 */
export function sharedBuildOptions(metaUrl) {
  return {
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: EXTERNAL,
    // CommonJS dependencies (yaml) bundled into ESM call require() for node's built-ins.
    banner: { js: "import { createRequire as __schedvmRequire } from 'node:module'; const require = __schedvmRequire(import.meta.url);" },
    logLevel: 'silent',
    plugins: [
      {
        name: 'own-import-meta-url',
        setup(build) {
          build.onLoad({ filter: /\.ts$/ }, (args) => ({
            contents: readFileSync(args.path, 'utf8').replaceAll('import.meta.url', metaUrl(args.path)),
            loader: 'ts',
          }));
        },
      },
      {
        // zod's namespace re-exports every locale's error messages (392 KiB, a quarter of the
        // CLI bundle), which esbuild cannot shake off; schedvm's messages are English. Compiling
        // them costs each process ~0.1 s under the sandbox's TCG.
        name: 'zod-english-only',
        setup(build) {
          build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) => {
            if (!/[/\\]node_modules[/\\]zod[/\\]/.test(args.importer)) return undefined;
            return { path: join(args.resolveDir, '..', 'locales', 'en-only.js'), namespace: ZOD_EN };
          });
          build.onLoad({ filter: /.*/, namespace: ZOD_EN }, (args) => ({
            contents: `export { default as en } from ${JSON.stringify(join(dirname(args.path), 'en.js'))};`,
            resolveDir: dirname(args.path),
            loader: 'js',
          }));
        },
      },
    ],
  };
}

/** Builds both bundles and their manifest; each file appears whole (renamed into place). */
export async function buildBundles() {
  // Loaded here, not above: every checkout process loads this module, and rarely builds.
  const [{ build }, { randomBytes }] = await Promise.all([import('esbuild'), import('node:crypto')]);
  // Unique per build, not per pid: one process's threads may build at once (vitest's), and sandbox VMs
  // sharing this directory have pids of their own (two builders named by pid 149 collided).
  const tag = `${process.pid}.${randomBytes(4).toString('hex')}`;
  const staging = `${BUNDLE_DIR}.${tag}.tmp`;
  try {
    const result = await build({
      ...sharedBuildOptions((path) => JSON.stringify(pathToFileURL(path).href)),
      entryPoints: ENTRIES,
      outdir: staging,
      outExtension: { '.js': '.mjs' },
      sourcemap: 'linked',
      metafile: true,
      absWorkingDir: ROOT,
    });
    const inputs = Object.fromEntries(
      Object.keys(result.metafile.inputs)
        .filter((p) => !p.startsWith(`${ZOD_EN}:`)) // made up, not a file
        .map((p) => {
          const abs = join(ROOT, p);
          return [abs, fingerprint(abs)];
        }),
    );
    mkdirSync(BUNDLE_DIR, { recursive: true });
    for (const name of Object.keys(ENTRIES)) {
      for (const ext of ['.mjs', '.mjs.map']) renameSync(join(staging, name + ext), join(BUNDLE_DIR, name + ext));
    }
    // The manifest last: until it names these inputs, nobody takes the files for fresh.
    const tmp = `${MANIFEST}.${tag}.tmp`;
    writeFileSync(tmp, JSON.stringify({ root: ROOT, inputs }));
    renameSync(tmp, MANIFEST);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * The URL to import for entry `name`: its bundle, built first if a source changed; or, where
 * no bundle can be had (SCHEDVM_BUNDLE=0, esbuild missing, node_modules read-only), the
 * TypeScript itself through tsx, registered on this thread unless `registerTsx` is false (the
 * vCPU pool asks for its threads, which register it themselves).
 */
export async function entryUrl(name, { registerTsx = true } = {}) {
  if (process.env.SCHEDVM_BUNDLE !== '0') {
    try {
      if (!bundlesFresh()) await buildBundles();
      // Source maps stay off unless asked for (NODE_OPTIONS=--enable-source-maps): parsing
      // them costs each process and each vCPU thread 0.3 s under the sandbox's TCG.
      return pathToFileURL(join(BUNDLE_DIR, `${name}.mjs`)).href;
    } catch (e) {
      if (process.env.SCHEDVM_BUNDLE === '1') throw e;
      // A read-only install is a choice, not news; anything else says why startup is slower.
      if (!['EACCES', 'EPERM', 'EROFS'].includes(e.code)) process.stderr.write(`schedvm: no bundle (${e.message.split('\n')[0]}); loading the TypeScript through tsx\n`);
    }
  }
  if (registerTsx) (await import('tsx/esm/api')).register();
  return pathToFileURL(ENTRIES[name]).href;
}

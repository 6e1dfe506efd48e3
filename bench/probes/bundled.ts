// Probes run as schedvm runs for its users: one esbuild bundle on plain node, with the options
// of schedvm's own bundles. Under tsx a probe's process would also hold tsx's loader thread (a V8
// isolate of its own) and its module cache, which no user's process has.
import { basename, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BUNDLE_DIR, sharedBuildOptions } from '../../src/launch/bundle.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The probe `source` bundled (inside node_modules, so koffi and tinypool resolve); run it with process.execPath. */
export async function bundledProbe(source: string): Promise<string> {
  const { build } = await import('esbuild');
  const outfile = join(BUNDLE_DIR, '..', 'schedvm-bench', basename(source).replace(/\.ts$/, '.mjs'));
  await build({ ...sharedBuildOptions((path) => JSON.stringify(pathToFileURL(path).href)), entryPoints: [source], outfile, absWorkingDir: ROOT });
  return outfile;
}

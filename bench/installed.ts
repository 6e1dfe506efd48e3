// schedvm as a user installs it: dist/, built from this checkout once per bench process. A
// checkout's CLI first checks its bundles against every source (a stat per file), and so does
// its vCPU pool; an installed schedvm has nothing to check.
import { fileURLToPath } from 'node:url';
import { run } from './proc.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The installed CLI's entry (bin/schedvm.mjs imports it where there is no checkout). */
export const INSTALLED_CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

let built: Promise<void> | undefined;

/** Builds dist/ (npm run build), once. */
export function buildInstalled(): Promise<void> {
  built ??= run(process.execPath, [fileURLToPath(new URL('../scripts/build.mjs', import.meta.url))], { cwd: ROOT }).then((r) => {
    if (r.code !== 0) throw new Error(`npm run build exited ${r.code}:\n${r.stderr.slice(-3000)}`);
  });
  return built;
}

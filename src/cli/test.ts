// `schedvm test` (what `npm test` runs): the unit and host projects here, the kvm and examples
// projects wherever /dev/kvm works (this host, or the sandbox: one sandbox run for both).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runWithKvm } from '../sandbox/index.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VITEST = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');

function runHere(argv: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

export async function main(args: string[]): Promise<number> {
  const vitest = (...projects: string[]) => [process.execPath, VITEST, 'run', ...projects.flatMap((p) => ['--project', p]), ...args];
  const unit = await runHere(vitest('unit', 'host'));
  const kvm = await runWithKvm(vitest('kvm', 'examples'), { cwd: ROOT });
  process.stderr.write(`schedvm test: unit+host ${unit === 0 ? 'passed' : 'FAILED'}, kvm+examples ${kvm === 0 ? 'passed' : 'FAILED'}\n`);
  return unit === 0 && kvm === 0 ? 0 : 1;
}

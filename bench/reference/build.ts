// Compiles the C reference VMM with the system compiler, once per source content.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from '../../src/fixtures/cache.ts';

const SOURCE = fileURLToPath(new URL('kvm-loop.c', import.meta.url));

export function buildKvmLoop(): string {
  const key = createHash('sha256').update(readFileSync(SOURCE)).digest('hex').slice(0, 12);
  const out = join(cacheDir('bench'), `kvm-loop-${key}`);
  if (!existsSync(out)) execFileSync('gcc', ['-O2', '-Wall', '-pthread', '-o', out, SOURCE], { stdio: 'inherit' });
  return out;
}

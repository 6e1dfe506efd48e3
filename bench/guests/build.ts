// Assembles bench-only bare guests (bench/guests/*.S) with the flags and includes of the test
// guests, cached by content; kept out of src/fixtures/guests so scenarios never list them.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from '../../src/fixtures/cache.ts';
import { guestToolFlags } from '../../src/fixtures/guests/build.ts';

export function buildBenchGuest(name: string): Buffer {
  const src = fileURLToPath(new URL(`${name}.S`, import.meta.url));
  const { as, ld } = guestToolFlags();
  const key = createHash('sha256')
    .update(readFileSync(src))
    .update(JSON.stringify([as, ld]))
    .digest('hex')
    .slice(0, 12);
  const out = join(cacheDir('bench'), `${name}-${key}`);
  if (!existsSync(`${out}.bin`)) {
    execFileSync('as', [...as, '-o', `${out}.o`, src]);
    execFileSync('ld', [...ld, '--oformat', 'binary', '-o', `${out}.bin`, `${out}.o`]);
  }
  return readFileSync(`${out}.bin`);
}

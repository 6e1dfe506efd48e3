// For the ABI tests: evaluates C expressions against the system's own headers (a tiny program
// compiled with cc), so every constant and layout the VMM hard-codes is checked where it runs.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Each expression's value, in order. */
export function probeC(includes: string[], exprs: string[]): number[] {
  const dir = mkdtempSync(join(tmpdir(), 'schedvm-abi-'));
  try {
    const src = [
      '#define _GNU_SOURCE',
      ...includes.map((h) => `#include <${h}>`),
      '#include <stddef.h>',
      '#include <stdio.h>',
      'int main(void) {',
      ...exprs.map((expr) => `  printf("%llu\\n", (unsigned long long)(${expr}));`),
      '  return 0;',
      '}',
    ].join('\n');
    writeFileSync(join(dir, 'probe.c'), src);
    execFileSync('cc', ['-o', join(dir, 'probe'), join(dir, 'probe.c')]);
    return execFileSync(join(dir, 'probe'), { encoding: 'utf8' }).trim().split('\n').map(Number);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The bench's own vitest run: only the files a case names, never part of `npm test`.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { sourceAlias } from '../../vitest.source.ts';

export default defineConfig({
  resolve: { alias: sourceAlias },
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['bench/vitest/*.bench-test.ts'],
    pool: 'forks',
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
});

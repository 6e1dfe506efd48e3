// Runs the fixture test files here in a child vitest (see ../../plugin.*.test.ts): files that
// fail on purpose, so the parent can check what a user would see.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { sourceAlias } from '../../../../vitest.source.ts';

export default defineConfig({
  resolve: { alias: sourceAlias },
  test: {
    root: fileURLToPath(new URL('../../../..', import.meta.url)),
    include: ['src/runner/testdata/plugin/*.fixture.ts'],
    pool: 'forks',
    testTimeout: 120_000,
  },
});

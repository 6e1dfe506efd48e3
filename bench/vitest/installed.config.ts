// The test-file case's vitest run: schedvm as a user's project loads it, the built JavaScript of
// dist/ (`npm run build`) imported by node as an installed package is, not transformed by vite.
// The reference file's own imports of src/ take the same built modules.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import bench from './vitest.config.ts';

const dist = (path: string) => fileURLToPath(new URL(`../../dist/${path}`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^schedvm$/, replacement: dist('runner/index.js') },
      { find: /^schedvm\/environment$/, replacement: dist('runner/environment.js') },
      { find: /^(?:\.\.\/)+src\/(.*)\.ts$/, replacement: `${dist('')}$1.js` },
    ],
  },
  test: { ...bench.test, server: { deps: { external: [/\/dist\//] } } },
});

// In schedvm's own checkout, `schedvm` and `schedvm/environment` are its TypeScript sources (the
// package's exports name dist/, which is built only to pack): the configs here resolve them so.
import { fileURLToPath } from 'node:url';

const source = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export const sourceAlias = [
  { find: /^schedvm$/, replacement: source('./src/runner/index.ts') },
  { find: /^schedvm\/environment$/, replacement: source('./src/runner/environment.ts') },
];

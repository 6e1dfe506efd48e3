#!/usr/bin/env node
// Installed, the CLI is the built JavaScript in dist/. In a checkout of schedvm (src/ is here and
// dist/ may be stale) it is the TypeScript, bundled when a source changed (src/launch/bundle.mjs).
import { existsSync } from 'node:fs';

const checkout = new URL('../src/launch/bundle.mjs', import.meta.url);
if (existsSync(checkout)) {
  const { entryUrl } = await import(checkout.href);
  await import(await entryUrl('cli'));
} else await import(new URL('../dist/cli/main.js', import.meta.url).href);

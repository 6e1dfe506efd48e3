#!/usr/bin/env node
// The CLI is TypeScript, loaded as a bundle rebuilt when a source changes (src/launch/bundle.mjs),
// so there is no build step to forget.
import { entryUrl } from '../src/launch/bundle.mjs';

await import(await entryUrl('cli'));

#!/usr/bin/env node
// This repository's maintainer commands (test, demo, docs): `node scripts/dev.mjs <command>`.
// Not in the user's CLI (bin/schedvm.mjs); loaded the same way, as a bundle (src/launch/bundle.mjs).
import { entryUrl } from '../src/launch/bundle.mjs';

await import(await entryUrl('dev'));

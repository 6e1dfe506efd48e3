// The vCPU pool's thread module. Installed (this file copied into dist/), the built worker beside
// it; in a checkout, the TypeScript loaded as the CLI loads it (src/launch/bundle.mjs).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = new URL('./worker.js', import.meta.url);
const url = existsSync(fileURLToPath(built)) ? built.href : await (await import('../../launch/bundle.mjs')).entryUrl('worker');
const { default: runTask } = await import(url);
export default runTask;

// The vCPU pool's thread module. Installed (this file copied into dist/), the built worker beside
// it; in a checkout, the TypeScript loaded as the CLI loads it (src/launch/bundle.mjs).
//
// The VMM (and with it koffi's native addon) loads with the thread's first task, not when the
// thread starts: tinypool starts spare threads of its own accord and terminates them on
// destroy(), and a thread terminated while koffi's addon initialises aborts the whole process
// ("FATAL ERROR: Error::ThrowAsJavaScriptException napi_throw": node-addon-api cannot throw in
// a terminating thread). A thread that never ran a task has loaded nothing.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

let runTask;

async function load() {
  const built = new URL('./worker.js', import.meta.url);
  const url = existsSync(fileURLToPath(built)) ? built.href : await (await import('../../launch/bundle.mjs')).entryUrl('worker');
  return (await import(url)).default;
}

export default async function run(task) {
  runTask ??= await load();
  return runTask(task);
}

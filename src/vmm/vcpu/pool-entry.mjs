// The vCPU pool's thread module. Each task comes with the URL of the module to run it (pool.ts
// resolves it once per pool: the built worker installed, its bundle in a checkout).
//
// That module (and with it koffi's native addon) loads with the thread's first task, not when the
// thread starts: tinypool starts spare threads of its own accord and terminates them on
// destroy(), and a thread terminated while koffi's addon initialises aborts the whole process
// ("FATAL ERROR: Error::ThrowAsJavaScriptException napi_throw": node-addon-api cannot throw in
// a terminating thread). A thread that never ran a task has loaded nothing.
let runTask;

async function load(entry) {
  // A checkout without bundles (SCHEDVM_BUNDLE=0) runs the TypeScript: tsx's hooks, on this thread too.
  if (entry.endsWith('.ts')) (await import('tsx/esm/api')).register();
  return (await import(entry)).default;
}

/** @param {import('./pool.ts').PoolEnvelope} envelope */
export default async function run({ entry, task }) {
  runTask ??= await load(entry);
  return runTask(task);
}

// vCPU threads come from one tinypool per process and are reused across VMs: a fresh
// worker thread has to start node's worker runtime and load the vCPU bundle first (tens of
// ms on a host, about 0.6 s under the sandbox's TCG), a pooled one starts the next vCPU at
// once. A task runs vCPU 0, or serves a VM's other vCPUs on native threads (group.ts), or is a
// VM's device thread.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import Tinypool from 'tinypool';
import { MAX_VCPUS } from '../topology.ts';
import type { DeviceThreadInit, VcpuWorkerInit } from './protocol.ts';

/** What a pool task gets: one vCPU to run, native vCPUs to serve, a VM's device thread, or a warm-up barrier. */
export type VcpuTask =
  | { kind: 'vcpu'; init: VcpuWorkerInit; port: MessagePort }
  | { kind: 'vcpus'; inits: VcpuWorkerInit[]; port: MessagePort }
  | { kind: 'devices'; init: DeviceThreadInit; port: MessagePort }
  | { kind: 'warm'; barrier: SharedArrayBuffer; count: number; timeoutMs: number };

// A VM takes at most three (vCPU 0, the exit thread of its other vCPUs, its device thread); the
// cap lets VMs run at once in one process (it is per process) without one's task queued behind
// another's. Threads start on demand, so the cap costs nothing.
const MAX_THREADS = MAX_VCPUS + 1;

/** Pool threads a VM of `vcpus` vCPUs takes for them: vCPU 0's own, and one for the rest (vCPU 1's own, or their exit thread: manager.ts). */
export function poolThreadsForVcpus(vcpus: number): number {
  return Math.min(vcpus, 2);
}
/** Idle threads linger this long for the next VM; the pool never keeps the process alive. */
const IDLE_TIMEOUT_MS = 60_000;
const WARM_WAIT_MS = 120_000;

// One pool per process, even when the VMM modules are loaded twice (vitest's environment
// loader and the test file's module graph are separate).
// The key names this shape ({ threads, entry }): a process holding an older schedvm's pool (a bare Tinypool) keeps it apart.
const KEY = Symbol.for('schedvm.vcpuPool.v2');
const WARMING = Symbol.for('schedvm.vcpuPoolWarming');
interface VcpuPool {
  threads: Tinypool;
  /** The URL of the module each thread loads with its first task (pool-entry.mjs); cleared on failure, so the next task tries again. */
  entry?: Promise<string>;
  /** Tasks waiting for `entry` before they reach the pool. */
  handing: Set<Promise<void>>;
}
type Holder = { [KEY]?: VcpuPool; [WARMING]?: Set<Promise<unknown>> };
const holder = globalThis as Holder;

/** What pool-entry.mjs gets: the thread module to load (once per thread) and the task for it. */
export interface PoolEnvelope {
  entry: string;
  task: VcpuTask;
}

/**
 * The vCPU threads' module: built beside this one where schedvm is installed (dist/); in a
 * checkout, its bundle, checked against the sources (src/launch/bundle.mjs). Resolved once per
 * pool on the caller's thread: each thread checking the bundle itself cost ~1 MiB and a stat
 * of every source (~0.1 s under the sandbox's TCG) per thread.
 */
export async function vcpuThreadModuleUrl(): Promise<string> {
  const built = new URL('./worker.js', import.meta.url);
  if (existsSync(fileURLToPath(built))) return built.href;
  const launcher: string = new URL('../../launch/bundle.mjs', import.meta.url).href;
  const { entryUrl } = (await import(launcher)) as { entryUrl(name: string, o: { registerTsx: boolean }): Promise<string> };
  return entryUrl('worker', { registerTsx: false });
}

const LOADER_FLAGS = new Set(['--import', '--loader', '--experimental-loader', '--require', '-r']);
const isTsx = (value: string) => /(^|[/\\@])tsx([/\\]|$)/.test(value);

/**
 * The vCPU threads' node flags: the parent's (undefined: inherited, as node does by default)
 * unless it loads tsx's hooks. A vCPU thread loads the bundled VMM (pool-entry.mjs registers tsx
 * itself where there is no bundle); tsx inherited from `--import tsx` costs each thread about
 * 7.5 MiB. Then the threads get no flags: node refuses explicitly given V8 and process-wide
 * flags (--max-old-space-size, --expose-gc) for a worker, and a vCPU thread needs none.
 */
export function vcpuThreadExecArgv(argv: readonly string[]): string[] | undefined {
  const tsx = argv.some((a, i) => {
    const eq = a.indexOf('=');
    if (eq > 0) return LOADER_FLAGS.has(a.slice(0, eq)) && isTsx(a.slice(eq + 1));
    return LOADER_FLAGS.has(a) && i + 1 < argv.length && isTsx(argv[i + 1]!);
  });
  return tsx ? [] : undefined;
}

function pool(): VcpuPool {
  holder[KEY] ??= {
    threads: new Tinypool({
      filename: new URL('./pool-entry.mjs', import.meta.url).href,
      execArgv: vcpuThreadExecArgv(process.execArgv),
      minThreads: 0,
      maxThreads: MAX_THREADS,
      idleTimeout: IDLE_TIMEOUT_MS,
    }),
    handing: new Set(),
  };
  return holder[KEY];
}

/** Runs `task` on a pooled thread; settles when it ends. */
async function runOnPool(task: VcpuTask, transferList?: MessagePort[]): Promise<unknown> {
  const p = pool();
  p.entry ??= vcpuThreadModuleUrl().catch((e: unknown) => {
    p.entry = undefined;
    throw e;
  });
  // Handed to the pool once the entry is known; shutdown waits for that, so destroy() ends the
  // task's thread (given to a destroyed Tinypool, it would start a thread nothing ends).
  const handed = p.entry.then((entry) => ({ running: p.threads.run({ entry, task } satisfies PoolEnvelope, transferList ? { transferList } : {}) }));
  const settled = handed.then(
    () => undefined,
    () => undefined,
  );
  p.handing.add(settled);
  void settled.then(() => p.handing.delete(settled));
  return (await handed).running;
}

export interface VcpuRun {
  /** The vCPU's messages (ready, failed, freeze-request, done); close it once done. */
  port: MessagePort;
  /** Settles when the task ends; rejects when its thread died. */
  finished: Promise<void>;
}

function startOnPool(task: (port: MessagePort) => VcpuTask): VcpuRun {
  const { port1, port2 } = new MessageChannel();
  const finished = runOnPool(task(port2), [port2]).then(() => undefined);
  return { port: port1, finished };
}

/** Starts one vCPU on a pooled thread (its task, worker.ts, creates and drives it). */
export function startVcpuThread(init: VcpuWorkerInit): VcpuRun {
  return startOnPool((port) => ({ kind: 'vcpu', init, port }));
}

/** Starts vCPUs on native threads, served by one pooled exit thread (group.ts). */
export function startNativeVcpus(inits: VcpuWorkerInit[]): VcpuRun {
  return startOnPool((port) => ({ kind: 'vcpus', inits, port }));
}

/** Starts a VM's device thread (device-task.ts) on a pooled thread. */
export function startDeviceThread(init: DeviceThreadInit): VcpuRun {
  return startOnPool((port) => ({ kind: 'devices', init, port }));
}

/** Warm-ups in flight, per process as the pool is: shutdownVcpuPool waits for them (each may be loading koffi's addon on its thread). */
holder[WARMING] ??= new Set<Promise<unknown>>();
const warming = holder[WARMING];

/** Starts `threads` pool threads (all loaded, idle) so the next VMs find them ready. */
export async function warmVcpuPool(threads: number): Promise<void> {
  if (threads <= 0) return;
  // Every warm task waits at a barrier until all have started, so each holds its own
  // thread: that makes the pool start threads until `threads` are live.
  const barrier = new SharedArrayBuffer(4);
  const tasks = Promise.all(Array.from({ length: threads }, () => runOnPool({ kind: 'warm', barrier, count: threads, timeoutMs: WARM_WAIT_MS })));
  const settled = tasks.then(
    () => undefined,
    () => undefined,
  );
  warming.add(settled);
  void settled.then(() => warming.delete(settled));
  await tasks;
}

/** Threads the pool holds now (busy or idle). */
export function vcpuPoolThreads(): number {
  return holder[KEY]?.threads.threads.length ?? 0;
}

/** Ends every pooled thread once no warm-up is loading one and every task asked for is in the pool; the next VM starts a new pool. */
export async function shutdownVcpuPool(): Promise<void> {
  await Promise.all(warming);
  const p = holder[KEY];
  if (!p) return;
  delete holder[KEY];
  await Promise.all(p.handing);
  await p.threads.destroy();
}

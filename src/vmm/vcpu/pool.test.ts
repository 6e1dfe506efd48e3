import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { shutdownVcpuPool, startVcpuThread, vcpuPoolThreads, vcpuThreadExecArgv, vcpuThreadModuleUrl, warmVcpuPool } from './pool.ts';
import type { VcpuWorkerInit } from './protocol.ts';

describe('vcpuThreadExecArgv', () => {
  it("drops every flag when the parent loads tsx's hooks, in any spelling", () => {
    expect(vcpuThreadExecArgv(['--import', 'tsx', '--enable-source-maps'])).toEqual([]);
    expect(vcpuThreadExecArgv(['--max-old-space-size=512', '--import=tsx'])).toEqual([]);
    expect(vcpuThreadExecArgv(['--loader', 'tsx/esm'])).toEqual([]);
    expect(vcpuThreadExecArgv(['-r', 'tsx/cjs'])).toEqual([]);
    expect(vcpuThreadExecArgv(['--import', 'file:///x/node_modules/tsx/dist/loader.mjs'])).toEqual([]);
  });

  it('leaves every other parent to node (inherited flags, V8 ones included)', () => {
    expect(vcpuThreadExecArgv(['--import', './setup.mjs', '--conditions', 'tsx'])).toBeUndefined();
    expect(vcpuThreadExecArgv(['--max-old-space-size=512', '--expose-gc'])).toBeUndefined();
    expect(vcpuThreadExecArgv(['--import'])).toBeUndefined();
  });

  it('is right that node refuses V8 flags given to a worker explicitly', () => {
    expect(() => new Worker('0', { eval: true, execArgv: ['--max-old-space-size=512'] })).toThrow(expect.objectContaining({ code: 'ERR_WORKER_INVALID_EXEC_ARGV' }));
  });
});

describe('the thread module', () => {
  it('is resolved on the caller: in a checkout, the worker bundle (or its TypeScript), which exists', async () => {
    const url = await vcpuThreadModuleUrl();
    expect(url).toMatch(/\/worker\.(mjs|ts)$/);
    expect(existsSync(fileURLToPath(url))).toBe(true);
  }, 60_000); // builds the bundles when a source changed

  it("is what pool-entry.mjs loads from its first task's envelope, and only then", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'schedvm-pool-entry-'));
    try {
      const module = (name: string) => {
        const path = join(dir, `${name}.mjs`);
        writeFileSync(path, `export default (task) => ${JSON.stringify(name)} + ':' + task;`);
        return pathToFileURL(path).href;
      };
      const entryModule: string = new URL('./pool-entry.mjs', import.meta.url).href;
      const { default: run } = (await import(entryModule)) as { default: (envelope: { entry: string; task: string }) => Promise<string> };
      expect(await run({ entry: module('first'), task: 'a' })).toBe('first:a');
      expect(await run({ entry: module('second'), task: 'b' })).toBe('first:b');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('shutdownVcpuPool', () => {
  // A task asked for just before shutdown waits for the thread module's URL; handed to the
  // destroyed pool after it, it would start a thread that nothing ends.
  it('ends a task asked for just before it, with the pool', async () => {
    const run = startVcpuThread({ index: 0 } as VcpuWorkerInit);
    let settled = false;
    run.finished.then(
      () => (settled = true),
      () => (settled = true),
    );
    await shutdownVcpuPool();
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(true);
    expect(vcpuPoolThreads()).toBe(0);
    run.port.close();
  });

  // A pool thread terminated while koffi's addon initialises aborts the process (node-addon-api
  // cannot throw in a terminating thread): 4 of 60 processes did so when shutdown did not wait.
  it('waits out warm-ups in flight before it terminates their threads', async () => {
    let warmed = false;
    const warm = warmVcpuPool(2).then(() => {
      warmed = true;
    });
    await shutdownVcpuPool();
    expect(warmed).toBe(true);
    expect(vcpuPoolThreads()).toBe(0);
    await warm;
  });
});

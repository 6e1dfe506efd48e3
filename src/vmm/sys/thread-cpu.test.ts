import { describe, expect, it } from 'vitest';
import { readlinkSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { cpuSince, parseThreadStat, threadCpu, threadRunState } from './thread-cpu.ts';

// A vCPU thread's stat line: utime 250, stime 40, guest_time 200 (ticks), a comm with ") (" in it.
const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
fields[14 - 3] = '250';
fields[15 - 3] = '40';
fields[43 - 3] = '200';
const STAT = `4242 (a) (b) ${fields.join(' ')}\n`;

describe('thread CPU time', () => {
  it('reads utime + stime and guest_time past a comm holding parentheses', () => {
    expect(parseThreadStat(STAT)).toEqual({ totalMs: 2900, guestMs: 2000 });
  });

  it('names the field a short line lacks', () => {
    expect(() => parseThreadStat('1 (x) R 2 3')).toThrow(/no field 14/);
  });

  it('sees this thread spin: its CPU time grows, none of it in a guest', () => {
    const before = threadCpu();
    const giveUp = performance.now() + 10_000; // a loaded machine lends this thread less CPU
    let used = cpuSince(before);
    while (used.totalMs < 100 && performance.now() < giveUp) used = cpuSince(before);
    expect(used.totalMs).toBeGreaterThanOrEqual(100);
    expect(used.guestMs).toBe(0);
  });
});

describe('threadRunState', () => {
  it('a thread asleep is blocked, this running one is runnable, a gone one is unknown', async () => {
    const own = Number(readlinkSync('/proc/thread-self').split('/').at(-1));
    expect(threadRunState(own)).toBe('runnable');
    // A thread that sleeps in the kernel (as a halted vCPU does in KVM_RUN), reporting its tid first.
    const gate = new Int32Array(new SharedArrayBuffer(8));
    const worker = new Worker(
      `const { readlinkSync } = require('node:fs'); const { workerData: g, parentPort } = require('node:worker_threads');
       parentPort.postMessage(Number(readlinkSync('/proc/thread-self').split('/').at(-1))); Atomics.wait(g, 0, 0);`,
      { eval: true, workerData: gate },
    );
    try {
      const tid = await new Promise<number>((resolve) => worker.once('message', resolve));
      await expect.poll(() => threadRunState(tid)).toBe('blocked');
    } finally {
      Atomics.store(gate, 0, 1);
      Atomics.notify(gate, 0);
      await worker.terminate();
    }
    expect(threadRunState(2 ** 22 + 1)).toBeUndefined();
  });
});

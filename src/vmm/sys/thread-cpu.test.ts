import { describe, expect, it } from 'vitest';
import { cpuSince, parseThreadStat, threadCpu } from './thread-cpu.ts';

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

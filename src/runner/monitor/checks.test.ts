import { describe, expect, it } from 'vitest';
import { clockStalls, type CpuSample, longestImbalance, type MonitorSample, runqueueStalls } from './checks.ts';
import { monitorGate, monitorResult, RQ_STRETCH_FACTOR } from './result.ts';

const cpu = (o: Partial<CpuSample> = {}): CpuSample => ({ online: true, nr: 1, scx: 1, pid: 100, comm: 'spin', idle: false, clock: 0, ...o });
/** One sample per 10 ms; `cpus(i)` gives sample i's CPUs. */
const trace = (n: number, cpus: (i: number) => CpuSample[]): MonitorSample[] => Array.from({ length: n }, (_, i) => ({ t: i * 10, cpus: cpus(i) }));

describe('runqueue checks', () => {
  it('a CPU running its idle task with runnable tasks queued is a stall, for as long as it lasts', () => {
    // CPU 1 idles with a task queued from 100 ms to 350 ms; CPU 0 is busy throughout.
    const t = trace(50, (i) => [cpu({ clock: i }), i >= 10 && i <= 35 ? cpu({ idle: true, pid: 0, comm: 'idle', clock: i }) : cpu({ nr: 0, idle: true, clock: i })]);
    expect(runqueueStalls(t)).toEqual([
      { cpu: 0, atMs: 0, ms: 0 },
      { cpu: 1, atMs: 100, ms: 250 },
    ]);
  });

  it("counts only the stall's time with its vCPU halted: a runnable vCPU is on its way to the queued task", () => {
    // CPU 1 idles with a task queued from 100 ms to 350 ms; its vCPU thread was runnable (the
    // wake-up in flight, the host not running it) from 150 ms to 300 ms.
    const run = (i: number) => (i > 15 && i <= 30 ? 'runnable' : 'blocked');
    const t = trace(50, (i) => [cpu(), i >= 10 && i <= 35 ? cpu({ idle: true, pid: 0, comm: 'idle', vcpu: run(i) }) : cpu({ nr: 0, idle: true })]);
    expect(runqueueStalls(t)[1]).toEqual({ cpu: 1, atMs: 100, ms: 100, wallMs: 250 });
    const gate = monitorGate('s.yaml', { max_rq_stall_ms: 90 }, monitorResult(100, t));
    expect(gate).toMatch(/CPU 1 ran its idle task with runnable tasks queued for 100 ms with its vCPU halted \(of a 250 ms stretch\), from 100 ms/);
    expect(monitorGate('s.yaml', { max_rq_stall_ms: 100 }, monitorResult(100, t))).toBeUndefined();
    // Runnable throughout (the sandbox's 0.7 s case): no stall; halted throughout: all of it.
    expect(runqueueStalls(trace(50, () => [cpu(), cpu({ idle: true, vcpu: 'runnable' })]))[1]!.ms).toBe(0);
    expect(runqueueStalls(trace(50, () => [cpu(), cpu({ idle: true, vcpu: 'blocked' })]))[1]).toEqual({ cpu: 1, atMs: 0, ms: 490 });
    // wallMs is the whole stretch, runnable samples after its last halted one included.
    const tail = trace(50, (i) => [cpu(), i >= 10 && i <= 40 ? cpu({ idle: true, vcpu: i <= 20 ? 'blocked' : 'runnable' }) : cpu({ nr: 0, idle: true })]);
    expect(runqueueStalls(tail)[1]).toEqual({ cpu: 1, atMs: 100, ms: 100, wallMs: 300 });
  });

  it(`a stretch with the vCPU runnable still fails past ${RQ_STRETCH_FACTOR}x the bound: an idle path that loops without running the task`, () => {
    const t = trace(50, () => [cpu(), cpu({ idle: true, vcpu: 'runnable' })]);
    const r = monitorResult(100, t);
    expect(r.rqStallStretches[1]).toEqual({ cpu: 1, atMs: 0, ms: 490 });
    expect(monitorGate('s.yaml', { max_rq_stall_ms: 100 }, r)).toMatch(
      /CPU 1 ran its idle task with runnable tasks queued for 490 ms, from 0 ms into the monitor; its vCPU was runnable for much of it, but a stretch over 4x the bound fails/,
    );
    expect(monitorGate('s.yaml', { max_rq_stall_ms: 130 }, r)).toBeUndefined();
  });

  it('an idle CPU with an empty runqueue, or an offline one, is no stall', () => {
    const t = trace(20, () => [cpu({ nr: 0, idle: true }), cpu({ online: false, nr: 1, idle: true })]);
    expect(runqueueStalls(t).map((s) => s.ms)).toEqual([0, 0]);
  });

  it('a runqueue clock that stands still with runnable tasks is a clock stall', () => {
    const t = trace(30, (i) => [cpu({ clock: Math.min(i, 10) }), cpu({ clock: i })]);
    expect(clockStalls(t)).toEqual([
      { cpu: 0, atMs: 110, ms: 180 },
      { cpu: 1, atMs: 0, ms: 0 },
    ]);
  });

  it('imbalance: one CPU with 2+ runnable tasks while another idles empty', () => {
    const t = trace(40, (i) => [cpu({ nr: i >= 5 && i < 25 ? 3 : 1, clock: i }), cpu({ nr: 0, idle: true, clock: i })]);
    expect(longestImbalance(t)).toEqual({ atMs: 50, ms: 190, busyCpu: 0, idleCpu: 1 });
  });
});

describe('expect.monitor', () => {
  const stalled = monitorResult(
    100,
    trace(100, (i) => [cpu({ clock: i }), cpu({ idle: i > 20 && i < 90, pid: 0, clock: i })]),
  );

  it('fails a run whose stall exceeds the bound, naming the CPU, how long and when', () => {
    expect(monitorGate('s.yaml', { max_rq_stall_ms: 500 }, stalled)).toBe(
      'expect.monitor of s.yaml: max_rq_stall_ms 500: CPU 1 ran its idle task with runnable tasks queued for 680 ms with its vCPU halted, from 210 ms into the monitor',
    );
    expect(monitorGate('s.yaml', { max_rq_stall_ms: 1000 }, stalled)).toBeUndefined();
  });

  it('fails when the monitor took no samples, with its reason', () => {
    expect(monitorGate('s.yaml', { max_rq_stall_ms: 1 }, monitorResult(100, [], { note: 'monitor: the guest kernel did not report runqueues' }))).toBe(
      'expect.monitor of s.yaml: the monitor took no samples (monitor: the guest kernel did not report runqueues)',
    );
  });

  it("checks only the scheduler's windows, each apart: a stall at boot or between two windows does not count", () => {
    // CPU 1 idles with a task queued for samples 0..29 (boot) and 60..89; the scheduler is attached over 30..50 and 55..100.
    const t = trace(100, (i) => [cpu({ clock: i }), cpu({ idle: i < 30 || (i >= 60 && i < 90), pid: 0, clock: i })]);
    const all = monitorResult(100, t);
    expect(all.rqStalls.find((s) => s.cpu === 1)!.ms).toBe(290);
    const scoped = monitorResult(100, t, {
      windows: [
        { fromMs: 300, toMs: 500 },
        { fromMs: 550, toMs: 1000 },
      ],
    });
    expect(scoped.rqStalls.find((s) => s.cpu === 1)).toEqual({ cpu: 1, atMs: 600, ms: 290 });
    const firstOnly = monitorResult(100, t, { windows: [{ fromMs: 300, toMs: 500 }] });
    expect(firstOnly.rqStalls.find((s) => s.cpu === 1)!.ms).toBe(0);
    expect(monitorGate('s.yaml', { max_rq_stall_ms: 100 }, firstOnly)).toBeUndefined();
    expect(monitorGate('s.yaml', { max_rq_stall_ms: 100 }, monitorResult(100, t, { windows: [] }))).toMatch(/saw no time with the scheduler attached/);
  });

  it('fails a trace that stopped before the VM ended, even when what it saw is within bounds', () => {
    const partial = monitorResult(
      100,
      trace(30, (i) => [cpu({ clock: i })]),
      { stoppedEarly: 'monitor: kernel address 0xffff888000000000: not present' },
    );
    expect(monitorGate('s.yaml', { max_rq_stall_ms: 500 }, partial)).toBe(
      'expect.monitor of s.yaml: the monitor stopped 290 ms in, before the VM ended (monitor: kernel address 0xffff888000000000: not present): its checks saw only part of the run',
    );
  });
});

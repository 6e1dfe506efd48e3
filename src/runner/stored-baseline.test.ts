import { describe, expect, test } from 'vitest';
import { parseWorkload, type WorkloadResult } from '../fixtures/workload/metrics.ts';
import { compareWithBaseline } from './baseline.ts';
import { baselineDomain, baselineRegressions, captureBaseline, parseBaseline, renderBaseline } from './stored-baseline.ts';

const run = (victimRounds: number, p99Ns: number, busy: number, elapsedS = 5) =>
  parseWorkload(
    [
      `schedvm-wl: thread victim 0 cpu_ns=1000000000 rounds=${victimRounds} max_gap_ns=30000000`,
      'schedvm-wl: thread chat 0 cpu_ns=100000000 rounds=5000 max_gap_ns=2000000',
      'schedvm-wl: thread chat 1 cpu_ns=100000000 rounds=5000 max_gap_ns=2000000',
      `schedvm-wl: latency chat n=10000 kept=10000 p50_ns=20000 p99_ns=${p99Ns} max_ns=900000`,
      `schedvm-wl: cpu 0 busy_permille=${busy}`,
      'schedvm-wl: cpu 1 busy_permille=1000',
      `schedvm-wl: done elapsed_ns=${elapsedS * 1e9}`,
    ].join('\n'),
    { victim: 'spin', chat: 'pingpong' },
  ) as WorkloadResult;

describe('a stored baseline', () => {
  test('renders one line per fact and parses back to the same figures', () => {
    const b = captureBaseline(run(1000, 100000, 900));
    expect(renderBaseline(b)).toBe('cpu busy=0.95\ngroup victim rounds_per_s=200 max_gap_ms=30\ngroup chat rounds_per_s=2000 max_gap_ms=2 wake_p99_us=100');
    expect(parseBaseline(renderBaseline(b))).toEqual(b);
    const base = run(2000, 50000, 1000);
    const rel = captureBaseline(run(1000, 100000, 900), { workload: base, ratios: compareWithBaseline(run(1000, 100000, 900), base) });
    expect(renderBaseline(rel)).toContain('cpu busy=0.95 vs_default=0.95\ngroup victim rounds_per_s=200 max_gap_ms=30 vs_default_rounds=0.5 vs_default_max_gap=1');
    expect(parseBaseline(renderBaseline(rel))).toEqual(rel);
  });

  test('a run within tolerance holds; fewer rounds, longer latency or idler CPUs regress', () => {
    const then = captureBaseline(run(1000, 100000, 1000));
    expect(baselineRegressions(captureBaseline(run(800, 250000, 950)), then)).toEqual([]);
    expect(baselineRegressions(captureBaseline(run(500, 400000, 700)), then)).toEqual([
      'CPU busy 0.85 is below 0.9 (stored 1)',
      'group victim: rounds per second 100 is below 140 (stored 200)',
      'group chat: wake latency p99 (us) 400 is above 300 (stored 100)',
    ]);
    // Tolerances are the caller's; a slower run of the same work is fewer rounds per second.
    expect(baselineRegressions(captureBaseline(run(800, 100000, 1000)), then, { rounds: 0.1 })).toHaveLength(1);
    expect(baselineRegressions(captureBaseline(run(1000, 100000, 1000, 10)), then)[0]).toMatch(/victim: rounds per second 100/);
  });

  test('against the default scheduler, the ratios are compared, not the machine-bound figures', () => {
    const base = run(1000, 100000, 1000);
    const rel = (w: WorkloadResult, b: WorkloadResult) => captureBaseline(w, { workload: b, ratios: compareWithBaseline(w, b) });
    const then = rel(run(900, 100000, 1000), base);
    // A machine twice as slow: every absolute figure halves, the ratios hold.
    const slow = run(450, 200000, 1000, 10);
    expect(baselineRegressions(rel(slow, run(500, 200000, 1000, 10)), then)).toEqual([]);
    expect(baselineRegressions(rel(run(300, 100000, 1000), base), then)).toEqual(['group victim: rounds against the default scheduler 0.3 is below 0.63 (stored 0.9)']);
  });

  test('changed groups regress until accepted; the domain keeps the stored text when within tolerance', () => {
    const then = captureBaseline(run(1000, 100000, 1000));
    expect(baselineRegressions({ ...then, groups: then.groups.slice(0, 1) }, then)[0]).toBe('the groups changed: victim (stored: victim, chat); accept with vitest -u');
    const d = baselineDomain();
    const near = d.capture({ workload: run(990, 100000, 1000) });
    expect(d.match(near, then)).toEqual({ pass: true, resolved: renderBaseline(then), message: '' });
    expect(d.match(d.capture({ workload: run(10, 100000, 1000) }), then).pass).toBe(false);
    expect(d.regressions).toEqual(['group victim: rounds per second 2 is below 140 (stored 200)']);
  });
});

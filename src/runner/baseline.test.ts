import { describe, expect, test } from 'vitest';
import { parseWorkload, type WorkloadResult } from '../fixtures/workload/metrics.ts';
import { compareWithBaseline, ratio, ratioTable } from './baseline.ts';
import { parseScenario } from './scenario/load.ts';
import { workloadGateFailures, workloadGateMessage } from './workload-gates.ts';

const run = (which: string, victimRounds: number, p99Ns: number, busy: number) =>
  [
    `schedvm-wl: start run=${which} 5 s victim=spinx1 chat=pingpongx2`,
    `schedvm-wl: thread victim 0 cpu_ns=1000000000 rounds=${victimRounds} max_gap_ns=${victimRounds < 500 ? 3000000000 : 30000000}`,
    'schedvm-wl: thread chat 0 cpu_ns=100000000 rounds=5000 max_gap_ns=2000000',
    'schedvm-wl: thread chat 1 cpu_ns=100000000 rounds=5000 max_gap_ns=2000000',
    `schedvm-wl: latency chat n=10000 kept=10000 p50_ns=20000 p99_ns=${p99Ns} max_ns=900000`,
    `schedvm-wl: cpu 0 busy_permille=${busy}`,
    'schedvm-wl: cpu 1 busy_permille=1000',
    'schedvm-wl: done elapsed_ns=5000000000',
    'schedvm-wl: exit 0',
  ].join('\n');
const kinds = { victim: 'spin', chat: 'pingpong' } as const;
// The default scheduler first, then a scheduler that starved victim and left CPU 0 half idle.
const CONSOLE = `${run('baseline', 1000, 100000, 1000)}\n${run('scenario', 200, 250000, 500)}\n`;
const BASE = parseWorkload(CONSOLE, kinds, 'baseline') as WorkloadResult;
const RUN = parseWorkload(CONSOLE, kinds) as WorkloadResult;
const scenario = (gates: string) =>
  parseScenario(
    `name: b
kernel: debian-sched-ext
topology: 1n1l2c1t
scheduler: { name: scx_simple }
workload:
  baseline: default
  groups:
    - { name: victim, kind: spin, threads: 1 }
    - { name: chat, kind: pingpong, pairs: 1 }
expect:
  workload: ${gates}
`,
    'b.yaml',
  );

describe('a baseline run', () => {
  test('ratios are scenario over baseline, per group and for the CPUs', () => {
    const r = compareWithBaseline(RUN, BASE);
    expect(r.cpuBusy).toBe(0.75);
    expect(r.groups).toEqual([
      { name: 'victim', rounds: 0.2, cpuMs: 1, maxGap: 100 },
      { name: 'chat', rounds: 1, cpuMs: 1, maxGap: 1, wakeLatencyP99: 2.5 },
    ]);
    expect(ratioTable(r)).toContain('victim       rounds x0.2  cpu x1  longest gap x100');
    expect([ratio(0, 0), ratio(1, 0), ratio(1, 3)]).toEqual([1, Infinity, 0.333]);
  });

  test('the *_vs_baseline gates fail below (rounds, CPU busy) or above (gap, latency) their limit', () => {
    const s = scenario('{ rounds_vs_baseline: 0.5, max_gap_vs_baseline: 10, wake_latency_p99_vs_baseline: 2, cpu_busy_vs_baseline: 0.9 }');
    expect(workloadGateFailures(s, RUN, BASE).map((f) => f.message)).toEqual([
      'rounds_vs_baseline: group victim: rounds of work against the baseline 0.2 x is below 0.5 x',
      'max_gap_vs_baseline: group victim: longest gap against the baseline 100 x is above 10 x',
      'wake_latency_p99_vs_baseline: group chat: wake latency p99 against the baseline 2.5 x is above 2 x',
      "cpu_busy_vs_baseline: the CPUs' mean busy share against the baseline x0.75 is below x0.9",
    ]);
    // The same run against itself holds every gate.
    expect(workloadGateFailures(s, BASE, BASE)).toEqual([]);
  });

  test('a missing baseline run fails the gates saying so; the message shows both runs', () => {
    const s = scenario('{ rounds_vs_baseline: 0.5 }');
    expect(workloadGateFailures(s, RUN, undefined).map((f) => f.message)).toEqual(['the baseline run printed no measurements (it did not run to its end: see the console)']);
    const msg = workloadGateMessage('b.yaml', s, RUN, BASE)!;
    expect(msg).toMatch(/baseline \(the kernel's default scheduler\), workload: 5000 ms/);
    expect(msg).toContain('against the default scheduler (scenario / baseline): CPU busy x0.75');
  });
});

import { describe, expect, test } from 'vitest';
import type { WorkloadResult } from '../fixtures/workload/metrics.ts';
import { parseWorkload } from '../fixtures/workload/metrics.ts';
import { parseScenario } from './scenario/load.ts';
import { checkGroupGate, threadTable, workloadGateFailures, workloadGateMessage, workloadRunProblem } from './workload-gates.ts';

const scenario = (text: string) => parseScenario(`name: g\nkernel: debian-sched-ext\ntopology: 1n1l2c1t\n${text}`, 'g.yaml');
const groups = `workload:
  groups:
    - { name: victim, kind: spin, threads: 2 }
    - { name: chat, kind: pingpong, pairs: 1, expect: { wake_latency_p99_us: 100 } }
`;
// victim-1 went 1.5 s without running; chat's p99 is 450 us.
const RESULT = parseWorkload(
  [
    'schedvm-wl: thread victim 0 cpu_ns=2000000000 rounds=1000 max_gap_ns=30000000',
    'schedvm-wl: thread victim 1 cpu_ns=500000000 rounds=250 max_gap_ns=1500000000',
    'schedvm-wl: thread chat 0 cpu_ns=100000000 rounds=5000 max_gap_ns=2000000 migrations=10 cross_llc=10',
    'schedvm-wl: thread chat 1 cpu_ns=100000000 rounds=5000 max_gap_ns=2000000',
    'schedvm-wl: latency chat n=10000 kept=10000 p50_ns=20000 p99_ns=450000 max_ns=900000',
    'schedvm-wl: cpu 0 busy_permille=990',
    'schedvm-wl: cpu 1 busy_permille=400',
    'schedvm-wl: done elapsed_ns=5000000000',
    'schedvm-wl: exit 0',
  ].join('\n'),
  { victim: 'spin', chat: 'pingpong' },
) as WorkloadResult;

describe('workload gates', () => {
  test('each failing gate names itself, the group and the measured value; passing ones say nothing', () => {
    const s = scenario(`${groups}expect:\n  workload: { max_gap_ms: 1000, fairness_spread: 0.5, min_cpu_busy: 0.9, max_cross_llc_migrations_per_s: 5 }\n`);
    expect(workloadGateFailures(s, RESULT).map((f) => f.message)).toEqual([
      'max_gap_ms: group victim: longest gap without a round of work 1500 ms is above 1000 ms',
      'fairness_spread: group victim: CPU-time spread (max/min - 1) 3 is above 0.5',
      'wake_latency_p99_us: group chat: wake latency p99 450 us is above 100 us',
      'min_cpu_busy: CPU 1 was busy 0.4 of the time, below 0.9 (per CPU: 0:0.99 1:0.4)',
    ]);
  });

  test("a group's own expect overrides the top level's", () => {
    const s = scenario(
      `workload:\n  groups:\n    - { name: victim, kind: spin, threads: 2, expect: { max_gap_ms: 2000 } }\n    - { name: chat, kind: pingpong }\nexpect:\n  workload: { max_gap_ms: 10 }\n`,
    );
    expect(workloadGateFailures(s, RESULT).map((f) => [f.gate, f.group, f.measured])).toEqual([]);
    expect(checkGroupGate(RESULT, 'max_gap_ms', 1, 'chat')).toHaveLength(1);
  });

  test('gates over a run without measurements, or with a failed program, fail saying so', () => {
    const s = scenario(`${groups}`);
    expect(workloadGateFailures(s, undefined)[0]!.message).toMatch(/printed no measurements/);
    expect(workloadGateFailures(s, { ...RESULT, exitStatus: 1 })[0]!.message).toMatch(/exited with 1 \(a thread failed/);
    expect(workloadGateFailures(scenario('workload: { groups: [{ name: a, kind: spin }] }\n'), undefined)).toEqual([]); // no gates
  });

  test('command groups are not gated, and one whose command ended early fails the run', () => {
    const text = 'schedvm-wl: thread s 0 cpu_ns=1 wait_ns=1 slices=1\nschedvm-wl: thread s 1 cpu_ns=900000000 wait_ns=1 slices=1\nschedvm-wl: done elapsed_ns=1000000000\nschedvm-wl: exit 0\n';
    const w = parseWorkload(text, { s: 'command' })!;
    expect(checkGroupGate(w, 'fairness_spread', 0.1)).toEqual([]);
    expect(workloadRunProblem(w)).toBeUndefined();
    const gone = parseWorkload('schedvm-wl: thread s 0 error=1\nschedvm-wl: done elapsed_ns=1000000000\nschedvm-wl: exit 0\n', { s: 'command' })!;
    expect(workloadRunProblem(gone)).toBe('the workload program: command group s had no thread left at the end (its command ended early: see its output in the console)');
    // Even without gates: the environment and schedvm run fail the file on it.
    const s = scenario('workload: { groups: [{ name: s, kind: command, command: stress-ng --cpu 1 }] }\n');
    expect(workloadGateFailures(s, w)).toEqual([]);
    expect(workloadGateFailures(s, gone).map((f) => f.gate)).toEqual(['workload']);
  });

  test('the message carries the per-thread table', () => {
    const msg = workloadGateMessage('g.yaml', scenario(groups), RESULT)!;
    expect(msg).toMatch(/^expect\.workload of g\.yaml:\n {2}wake_latency_p99_us: group chat/);
    expect(msg).toContain(threadTable(RESULT));
    expect(threadTable(RESULT)).toMatch(/victim-1 +500\.0 +0\.0 +1500\.0 +250/);
    expect(threadTable(RESULT)).toContain('chat: wake latency p50 20 us, p99 450 us, max 900 us (10000 wakes)');
  });
});

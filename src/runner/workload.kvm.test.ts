// Scheduling behaviour measured in a real guest: the metrics against a known truth (the default
// scheduler's nice weights), and each behaviour fault of scx_fault failing its own gate of the
// same shape, and only that one, where the kernel's default scheduler passes them all
// (scx_simple passes them in examples/behaviour-gate.test.ts).
import { describe, expect, it } from 'vitest';
import { runScenario } from './run-scenario.ts';
import { loadScenario } from './scenario/load.ts';
import { threadTable, workloadGateFailures } from './workload-gates.ts';

const TEST_TIMEOUT_MS = 900_000;
const tail = (text: string) => text.slice(-4000);

describe('workload groups under the kernel default scheduler and under faults', () => {
  it('the default scheduler passes every gate, and its CPU shares follow the nice weights', async () => {
    const s = loadScenario('scenarios/workload/behaviour.yaml');
    const r = await runScenario(s);
    expect(r.exitAction, tail(r.console.com1)).toBe('Shutdown');
    const w = r.workload!;
    expect(w, tail(r.console.com1)).toBeDefined();
    expect(workloadGateFailures(s, w), threadTable(w)).toEqual([]);
    // Two spinning threads on CPU 3, nice 0 and nice 5: 1024:335 (3.06), within 20%.
    const cpu = (g: string) => w.groups.find((x) => x.name === g)!.cpuMs;
    expect(cpu('n0') / cpu('n5'), threadTable(w)).toBeGreaterThan(3.06 * 0.8);
    expect(cpu('n0') / cpu('n5'), threadTable(w)).toBeLessThan(3.06 * 1.2);
    for (const t of w.threads) expect(t.rounds, threadTable(w)).toBeGreaterThan(0);
    // Pinned threads never change CPU; the pingpong pair timed its wake-ups.
    expect(w.threads.filter((t) => t.group === 'n0' || t.group === 'n5').every((t) => t.migrations === 0)).toBe(true);
    expect(w.groups.find((g) => g.name === 'chat')!.wakeLatency!.samples).toBeGreaterThan(100);
    expect(w.cpus.map((c) => c.cpu)).toEqual([0, 1, 2, 3]);
  }, TEST_TIMEOUT_MS);

  it.each([
    ['fault-starve.yaml', [['max_gap_ms', 'victim']]],
    ['fault-one-cpu.yaml', [['min_cpu_busy', undefined]]],
  ] as const)('%s fails its own gate and no other', async (file, expected) => {
    const s = loadScenario(`scenarios/sched/${file}`);
    const r = await runScenario(s);
    expect(r.exitAction, tail(r.console.com1)).toBe('Shutdown');
    // The scheduler misbehaved without being caught by the kernel: it was stopped cleanly.
    expect(r.scheduler, tail(r.console.com1)).toMatchObject({ name: 'scx_fault', state: 'enabled', exitKind: 'unreg' });
    const w = r.workload!;
    expect(w, tail(r.console.com1)).toBeDefined();
    console.log(`${file}\n${threadTable(w)}`);
    // A starved thread still ends soon after the duration: the fault releases it once a period.
    expect(w.durationMs, threadTable(w)).toBeLessThan(s.workload!.duration_s * 1000 + 9000);
    const failures = workloadGateFailures(s, w);
    expect(failures.map((f) => [f.gate, f.group]), `${failures.map((f) => f.message).join('\n')}\n${threadTable(w)}`).toEqual(expected);
  }, TEST_TIMEOUT_MS);
});

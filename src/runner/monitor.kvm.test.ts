// The host-side runqueue monitor on a Linux guest: it samples every CPU's runqueue out of guest
// memory while the guest runs, and its gate catches the stall scx_fault injects.
import { describe, expect, it } from 'vitest';
import { scenarioGate } from './gates.ts';
import { runScenario } from './run-scenario.ts';
import { loadScenario } from './scenario/load.ts';

const TEST_TIMEOUT_MS = 900_000;

describe('runqueue monitor', () => {
  it(
    'catches the runqueue stall scx_fault --stall injects (runnable task queued, idle task running) and fails expect.monitor',
    async () => {
      const file = 'scenarios/monitor/stall.yaml';
      const s = loadScenario(file);
      const r = await runScenario(s);
      const m = r.monitor!;
      const why = `${r.console.com1.slice(-4000)}\n${JSON.stringify({ ...m, trace: m?.trace.length })}`;
      expect(r.scheduler?.exitKind, why).toBe('error_stall');
      expect(m.note, why).toBeUndefined();
      expect(m.samples, why).toBeGreaterThan(100);
      expect(m.trace[0]!.cpus).toHaveLength(2);
      // Both CPUs were seen running real tasks with pids and names, and idling.
      const seen = m.trace.flatMap((t) => t.cpus);
      expect(
        seen.some((c) => !c.idle && c.pid > 0 && c.comm.length > 0),
        why,
      ).toBe(true);
      expect(
        seen.some((c) => c.idle),
        why,
      ).toBe(true);
      const worst = Math.max(...m.rqStalls.map((st) => st.ms));
      expect(worst, why).toBeGreaterThan(1000);
      expect(scenarioGate(file, s, r), why).toMatch(/max_rq_stall_ms 500: CPU \d ran its idle task with runnable tasks queued for \d+ ms/);
    },
    TEST_TIMEOUT_MS,
  );
});

// Lifecycle steps under a workload in a Linux guest: CPU hotplug with and without the
// scheduler's hotplug callbacks, a reload loop, a replacement whose failure the gate and the
// exit-kind watch catch, and a group moving to another cgroup.
import { describe, expect, it } from 'vitest';
import { resultTimeline } from './artifacts.ts';
import { scenarioGate } from './gates.ts';
import type { MonitorSample } from './monitor/checks.ts';
import { runScenario } from './run-scenario.ts';
import { loadScenario } from './scenario/load.ts';

const TEST_TIMEOUT_MS = 900_000;
const tail = (text: string) => text.slice(-6000);

describe('lifecycle steps', () => {
  it(
    'scx_simple: hotplug exits it (unreg_kern, naming the CPU) and it attaches again; 10 reloads; scx_fault takes over and fails, and the watch follows it',
    async () => {
      const file = 'scenarios/lifecycle/transitions.yaml';
      const s = loadScenario(file);
      const r = await runScenario(s);
      const why = `${tail(r.console.com1)}\n${JSON.stringify(r.steps, null, 1)}\n${r.kernelWatch?.join('\n')}`;
      expect(r.exitAction, why).toBe('Shutdown');
      const [off, on, reload, replace] = r.steps!;
      expect(
        r.steps!.map((st) => [st.kind, st.ok, st.message]),
        why,
      ).toEqual([
        ['hotplug', true, undefined],
        ['hotplug', true, undefined],
        ['reload', true, undefined],
        ['replace_scheduler', true, undefined],
      ]);
      // Without ops.cpu_offline/cpu_online the kernel exits the scheduler on each hotplug.
      expect(off!.schedulerExit, why).toMatchObject({ kind: 'unreg_kern', message: 'cpu 1 going offline, exiting scheduler' });
      expect(on!.schedulerExit, why).toMatchObject({ kind: 'unreg_kern', message: 'cpu 1 going online, exiting scheduler' });
      expect(off!.startedS).toBeGreaterThanOrEqual(1);
      expect(reload!.cycles).toBe(10);
      expect(replace!.schedulerExit, why).toMatchObject({ kind: 'unreg' }); // scx_simple, detached from user space
      // The result, the gate and the host's watch follow the replacement.
      expect(r.scheduler, why).toMatchObject({ state: 'enabled', exitKind: 'error_bpf', watchpointLatched: true });
      expect(r.scheduler!.dump.join('\n')).toMatch(/scx_fault: exit kind=1025/);
      expect(r.kernelWatch!.filter((n) => n.startsWith('exit-kind watch: armed')).length, why).toBeGreaterThanOrEqual(13);
      expect(scenarioGate(file, s, r)).toBeUndefined();
      expect(r.guest?.online).toEqual([0, 1]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'scx_fault (with hotplug callbacks) stays attached through CPU 1 going offline and online',
    async () => {
      const file = 'scenarios/lifecycle/hotplug-supported.yaml';
      const s = loadScenario(file);
      const r = await runScenario(s);
      const why = `${tail(r.console.com1)}\n${JSON.stringify(r.steps, null, 1)}`;
      expect(
        r.steps!.map((st) => [st.ok, st.schedulerExit]),
        why,
      ).toEqual([
        [true, undefined],
        [true, undefined],
      ]);
      expect(r.scheduler, why).toMatchObject({ state: 'enabled', exitKind: 'unreg' });
      expect(r.scheduler!.dump.join('\n')).toMatch(/scx_fault: exit kind=64 .* hotplug=2\b/);
      // The monitor saw CPU 1 offline for a while, and no runqueue stall (expect.monitor holds).
      expect(
        r.monitor!.trace.some((t) => !t.cpus[1]!.online),
        why,
      ).toBe(true);
      // Its timeline: both CPUs, the workload's spin group, CPU 1's offline stretch, both steps marked.
      const svg = resultTimeline(r)!;
      for (const part of ['>CPU 0</text>', '>CPU 1</text>', '<title>spin</title>', '<title>offline</title>', '>0: hotplug</text>', '>1: hotplug</text>']) expect(svg).toContain(part);
      expect(scenarioGate(file, s, r), JSON.stringify(r.monitor?.rqStalls)).toBeUndefined();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "a cgroup move takes a group's threads into a cgroup pinned to CPU 1: the monitor sees them on CPU 0 before and never after",
    async () => {
      const file = 'scenarios/lifecycle/cgroup-move.yaml';
      const s = loadScenario(file);
      const r = await runScenario(s);
      const why = `${tail(r.console.com1)}\n${JSON.stringify(r.steps, null, 1)}`;
      const [move] = r.steps!;
      expect(move, why).toMatchObject({ kind: 'cgroup_move', ok: true, moved: 2 });
      // The kernel told the scheduler about each thread (ops.cgroup_move; the workload's shell
      // entering the workload tree at its start is one more).
      const moves = /scx_fault: exit kind=64 .* cgroup_moves=(\d+)\b/.exec(r.scheduler!.dump.join('\n'));
      expect(Number(moves?.[1]), why).toBeGreaterThanOrEqual(2);
      // The step's lines and the samples share the monitor's clock (the host stamps each line as it
      // arrives): every thread has moved once its outcome line is here. The shell's walk of /proc
      // between the two lines took over 0.5 s when two sandbox VMs shared the host's cores.
      const [start, end] = [move!.monitorMs!, move!.monitorEndMs!];
      expect(start, why).toBeGreaterThan(0);
      expect(end, why).toBeGreaterThanOrEqual(start);
      const batchOn = (m: MonitorSample, cpu: number) => m.cpus[cpu]!.comm.startsWith('batch-');
      const trace = r.monitor!.trace;
      const before = trace.filter((m) => m.t < start);
      const after = trace.filter((m) => m.t > end);
      const seen = (ms: MonitorSample[], cpu: number) => ms.filter((m) => batchOn(m, cpu)).length;
      const counts = { before: [seen(before, 0), seen(before, 1)], after: [seen(after, 0), seen(after, 1)] };
      const said = JSON.stringify({ ...counts, start, end });
      expect(counts.before[0], said).toBeGreaterThan(10);
      expect(counts.after[0], said).toBe(0);
      expect(counts.after[1], said).toBeGreaterThan(10);
      expect(scenarioGate(file, s, r), why).toBeUndefined();
    },
    TEST_TIMEOUT_MS,
  );
});

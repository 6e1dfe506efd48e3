// Case monitor-cost: what the host-side runqueue monitor costs the guest. The same Linux guest
// runs one spin thread per vCPU for a few seconds with the monitor sampling at 100 Hz and
// without it; the figure is the threads' rounds per second (the workload program measures
// them). The note adds the monitor's own host time per sample.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ScenarioResult } from '../../src/runner/prepare.ts';
import { runScenario } from '../../src/runner/run-scenario.ts';
import { parseScenario } from '../../src/runner/scenario/load.ts';
import { caseResult, interleave, summarize, type CaseResult, type Where } from '../stats.ts';

const HZ = 100;

async function boot(dir: string, monitor: boolean): Promise<ScenarioResult> {
  const yaml = [
    `name: monitor-cost-${monitor ? 'on' : 'off'}`,
    'kernel: debian-sched-ext',
    'vcpus: 2',
    'memory_mb: 512',
    'timeout_s: 600',
    'workload: { duration_s: 5 }',
    ...(monitor ? [`monitor: { hz: ${HZ} }`] : []),
  ].join('\n');
  const r = await runScenario(parseScenario(`${yaml}\n`, join(dir, 'monitor-cost.yaml')));
  if (r.exitAction !== 'Shutdown' || !r.workload) throw new Error(`monitor-cost (${monitor ? 'on' : 'off'}): ${r.exitAction}, no workload result\n${r.console.com1.slice(-2000)}`);
  if (monitor && !r.monitor?.samples) throw new Error(`monitor-cost: the monitor took no samples (${r.monitor?.note ?? '?'})`);
  return r;
}

const roundsPerS = (r: ScenarioResult) => r.workload!.threads.reduce((sum, t) => sum + t.rounds, 0) / (r.workload!.durationMs / 1000);

export async function monitorCost(n: number, where: Where): Promise<CaseResult> {
  const dir = mkdtempSync(join(tmpdir(), 'schedvm-monitor-cost-'));
  try {
    const runs = await interleave(
      n,
      () => boot(dir, true),
      () => boot(dir, false),
    );
    const perSample = summarize(runs.ours.map((r) => r.monitor!.costUsPerSample));
    return caseResult({
      name: `monitor cost: workload rounds per second, 2 spin threads on 2 vCPUs, runqueue monitor at ${HZ} Hz`,
      unit: 'rounds/s',
      environment: where,
      ours: runs.ours.map(roundsPerS),
      reference: { name: 'the same guest without the monitor', samples: runs.reference.map(roundsPerS) },
      note: `one sample (every CPU's runqueue) takes ${perSample.median} µs of host time (${perSample.min}–${perSample.max})`,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

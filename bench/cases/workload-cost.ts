// Case workload-cost: what measuring costs the workload. One spinning thread pinned to CPU 0
// runs for 2 s timing every round (a clock read and a getcpu, as in every scenario) against the
// same thread only counting its rounds (SCHEDVM_WL_BARE=1); the cost is the share of rounds the
// timing takes away. Issue 13 asks for at most 2% of the workload's CPU time.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { buildWorkload } from '../../src/fixtures/workload/build.ts';
import { workloadArgs } from '../../src/fixtures/workload/command.ts';
import { parseWorkload } from '../../src/fixtures/workload/metrics.ts';
import { flatTopology } from '../../src/vmm/topology.ts';
import { caseResult, interleave, type CaseResult, type Where } from '../stats.ts';

const exec = promisify(execFile);
const SECONDS = 2;

async function roundsPerS(program: string, bare: boolean): Promise<number> {
  const args = workloadArgs({ seconds: SECONDS, topology: flatTopology(1), groups: [{ name: 'spin', kind: 'spin', threads: 1, nice: 0, policy: 'normal', priority: 0, cpus: [0] }] });
  const { stdout } = await exec(program, args, { env: { ...process.env, SCHEDVM_WL_BARE: bare ? '1' : '0' } });
  const w = parseWorkload(stdout);
  if (!w || w.exitStatus) throw new Error(`the workload program failed: ${stdout}`);
  return w.groups[0]!.rounds / (w.durationMs / 1000);
}

export async function workloadCost(n: number, where: Where): Promise<CaseResult> {
  const program = await buildWorkload();
  const { ours, reference } = await interleave(
    n,
    () => roundsPerS(program, false),
    () => roundsPerS(program, true),
  );
  const result = caseResult({
    name: 'workload measuring cost: rounds per second of a spinning thread, each round timed',
    unit: 'rounds/s',
    environment: where,
    ours,
    reference: { name: 'the same thread counting its rounds only', samples: reference },
  });
  return { ...result, note: `measuring costs ${((1 - result.ratio) * 100).toFixed(2)}% of the rounds (medians; a negative figure is noise)` };
}

// Case 2, exit round trip: the port-flood guest's N port writes (one VM exit each) under
// schedvm, against the C reference doing the same loop. Both sides time the run alone: the
// VM and its vCPU threads exist before the clock starts (schedvm's run() still includes
// releasing the parked vCPUs and collecting them, a few ms).
import { buildGuest } from '../../src/fixtures/guests/build.ts';
import { Vm } from '../../src/vmm/vm.ts';
import { buildKvmLoop } from '../reference/build.ts';
import { runJson } from '../proc.ts';
import { caseResult, interleave, type CaseResult, type Where } from '../stats.ts';

export async function exitRoundTrip(rounds: number, where: Where, writes = 100_000): Promise<CaseResult> {
  const image = await buildGuest('port-flood');
  const cLoop = buildKvmLoop();
  const ours = async () => {
    const vm = await Vm.create({ vcpus: 1, memoryMb: 64, guest: { kind: 'bare', image, arg: writes }, timeoutMs: 600_000 });
    const r = await vm.run();
    if (r.exitAction !== 'Shutdown' || !r.console.com1.includes(`flood done ${writes}`)) throw new Error(`port-flood: ${r.exitAction} ${r.fatalReason ?? ''}`);
    return r.wallMs;
  };
  const reference = async () => (await runJson<{ loopMs: number }>(cLoop, [String(writes)])).loopMs;
  await ours(); // warms the vCPU thread pool, as a test file's environment does
  const s = await interleave(rounds, ours, reference);
  return caseResult({
    name: `exit round trip: ${writes / 1000}k port writes`,
    unit: 'ms',
    environment: where,
    ours: s.ours,
    reference: { name: 'C KVM_RUN loop (gcc -O2), same 64-bit entry', samples: s.reference },
  });
}

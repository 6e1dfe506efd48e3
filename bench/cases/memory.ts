// Case 5, memory: the VMM's resident memory beyond the guest RAM it has resident, while a
// guest of 1 or 16 halted vCPUs runs, each side in a fresh process. schedvm's figure is its
// whole node process (runtime, tsx, one worker thread per vCPU).
import { fileURLToPath } from 'node:url';
import { buildKvmLoop } from '../reference/build.ts';
import { runJson } from '../proc.ts';
import { caseResult, interleave, type CaseResult, type Where } from '../stats.ts';

const PROBE = fileURLToPath(new URL('../probes/memory.ts', import.meta.url));
const mib = (s: { rssKb: number; guestKb: number }) => (s.rssKb - s.guestKb) / 1024;

export async function memory(rounds: number, where: Where, vcpus: number): Promise<CaseResult> {
  const cLoop = buildKvmLoop();
  const s = await interleave(
    rounds,
    async () => mib(await runJson(process.execPath, ['--import', 'tsx', PROBE, String(vcpus)])),
    async () => mib(await runJson(cLoop, ['1000', String(vcpus)])),
  );
  return caseResult({
    name: `memory: VMM RSS beyond guest RAM, ${vcpus} vCPU${vcpus > 1 ? 's' : ''}`,
    unit: 'MiB',
    environment: where,
    ours: s.ours,
    reference: { name: 'C KVM_RUN loop, a thread per vCPU', samples: s.reference },
  });
}

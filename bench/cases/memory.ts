// Case 5, memory: the VMM's resident memory beyond the guest RAM it has resident, while a
// guest of halted vCPUs runs, each side in a fresh process. schedvm's figure is its whole node
// process, bundled as schedvm runs (runtime, one worker thread per vCPU). The largest guest,
// 252 vCPUs as sched_ext developers' biggest topology presets, takes a shape whose APIC ids
// pass 255 and first boots the smp guest there, which must report every vCPU with its id.
import { fileURLToPath } from 'node:url';
import { buildKvmLoop } from '../reference/build.ts';
import { runJson } from '../proc.ts';
import { bundledProbe } from '../probes/bundled.ts';
import { caseResult, interleave, summarize, type CaseResult, type Where } from '../stats.ts';

const PROBE = fileURLToPath(new URL('../probes/memory.ts', import.meta.url));
const FLOOR_PROBE = fileURLToPath(new URL('../probes/memory-floor.ts', import.meta.url));
/** Issue 18's line: the VMM beyond guest RAM holds at most this much. */
const goalMib = (vcpus: number) => 60 + 2 * vcpus;

interface Sample {
  rssKb: number;
  guestKb: number;
  /** Only from the smp probe. */
  smpMs?: number;
}
const mib = (s: Sample) => (s.rssKb - s.guestKb) / 1024;

/** `shape`: a vCPU count (one LLC) or a topology shorthand with its vCPU count. */
export async function memory(rounds: number, where: Where, shape: number | { topology: string; vcpus: number }): Promise<CaseResult> {
  const cLoop = buildKvmLoop();
  const vcpus = typeof shape === 'number' ? shape : shape.vcpus;
  const bundle = await bundledProbe(PROBE);
  const probe = (...args: string[]) => runJson<Sample>(process.execPath, [bundle, ...args]);
  // At 1 vCPU the process runs JavaScript on two threads (the caller's, vCPU 0's): the floor
  // under that, with nothing of schedvm loaded, measured beside each run.
  const floorBundle = vcpus === 1 ? await bundledProbe(FLOOR_PROBE) : undefined;
  const floor: number[] = [];
  const smp: number[] = [];
  const s = await interleave(
    rounds,
    async () => {
      // The smp check in a process of its own, so its run leaves nothing in the RSS sampled.
      if (typeof shape !== 'number') smp.push((await probe(shape.topology, 'smp')).smpMs!);
      if (floorBundle) floor.push((await runJson<{ rssKb: number }>(process.execPath, [floorBundle])).rssKb / 1024);
      return probe(typeof shape === 'number' ? String(shape) : shape.topology);
    },
    () => runJson<Sample>(cLoop, ['1000', String(vcpus)]),
  );
  const floorNote = floor.length
    ? `; floor: node with one idle worker thread, koffi loaded on both, nothing of schedvm: ${summarize(floor).median.toFixed(1)} MiB (${Math.min(...floor).toFixed(1)}–${Math.max(...floor).toFixed(1)})`
    : '';
  const smpNote = smp.length
    ? `; the smp guest on ${(shape as { topology: string }).topology} saw all ${vcpus} vCPUs with their APIC ids, Vm.create to Shutdown ${Math.round(summarize(smp).median)} ms`
    : '';
  return caseResult({
    name: `memory: VMM RSS beyond guest RAM, ${vcpus} vCPU${vcpus > 1 ? 's' : ''}${typeof shape === 'number' ? '' : ` (${shape.topology})`}`,
    unit: 'MiB',
    environment: where,
    ours: s.ours.map(mib),
    reference: { name: 'C KVM_RUN loop, a thread per vCPU', samples: s.reference.map(mib) },
    note: `goal: at most ${goalMib(vcpus)} MiB (60 + 2 per vCPU)${floorNote}${smpNote}`,
  });
}

const THREADS = 16;
const THREAD_PROBE = fileURLToPath(new URL('../probes/thread-memory.ts', import.meta.url));

/**
 * What one vCPU thread holds, step by step: node's worker runtime alone (the reference), then
 * with the vCPU module loaded (the note), against a running vCPU thread (ours: what each of 15
 * more vCPUs adds to the 1-vCPU process, from the 1- and 16-vCPU probes). A worker thread is a V8
 * isolate with its own heap, so its runtime alone sets the floor under the 2 MiB per vCPU goal.
 */
export async function threadMemory(rounds: number, where: Where): Promise<CaseResult> {
  const probe = (kind: string) => runJson<{ perThreadKb: number }>(process.execPath, ['--import', 'tsx', THREAD_PROBE, String(THREADS), kind]);
  const bundle = await bundledProbe(PROBE);
  const vm = (n: number) => runJson<Sample>(process.execPath, [bundle, String(n)]);
  const loaded: number[] = [];
  const s = await interleave(
    rounds,
    async () => (mib(await vm(16)) - mib(await vm(1))) / 15,
    async () => {
      loaded.push((await probe('vmm')).perThreadKb / 1024);
      return (await probe('empty')).perThreadKb / 1024;
    },
  );
  return caseResult({
    name: 'memory: one vCPU thread (what each vCPU beyond the first adds)',
    unit: 'MiB',
    environment: where,
    ours: s.ours,
    reference: { name: `an idle node worker thread (${THREADS} started)`, samples: s.reference },
    note: `with the vCPU thread's module loaded, before any vCPU runs: ${summarize(loaded).median.toFixed(1)} MiB; goal 2 MiB per vCPU`,
  });
}

// Every case, and the phase it belongs to: `bare` runs on any /dev/kvm that opens, `linux`
// needs hardware-backed KVM (the sandbox when this host has none), `sandbox` runs on the host
// and starts sandbox VMs itself.
import type { CaseResult, Where } from '../stats.ts';
import { boot } from './boot.ts';
import { deviceWork } from './device-work.ts';
import { uartThroughput } from './console.ts';
import { exitRoundTrip } from './exits.ts';
import { memory, threadMemory } from './memory.ts';
import { monitorCost } from './monitor-cost.ts';
import { kvmPhase } from './kvm-phase.ts';
import { sandboxStalls } from './sandbox-stalls.ts';
import { virtioConsole } from './virtio-console.ts';
import { scale, testFileOverhead } from './vitest.ts';
import { workloadCost } from './workload-cost.ts';

export type Phase = 'bare' | 'linux' | 'sandbox';

export interface Case {
  id: string;
  phase: Phase;
  run(runs: number, where: Where): Promise<CaseResult[]>;
}

export const CASES: Case[] = [
  { id: 'exits', phase: 'bare', run: async (n, w) => [await exitRoundTrip(n, w)] },
  { id: 'console', phase: 'bare', run: async (n, w) => [await uartThroughput(n, w)] },
  { id: 'test-file', phase: 'bare', run: async (n, w) => [await testFileOverhead(n, w)] },
  { id: 'memory', phase: 'bare', run: async (n, w) => [await memory(n, w, 1), await memory(n, w, 16)] },
  { id: 'thread-memory', phase: 'bare', run: async (n, w) => [await threadMemory(n, w)] },
  { id: 'largest-guest', phase: 'bare', run: async (n, w) => [await memory(n, w, { topology: '2n6l21c2t', vcpus: 252 })] },
  { id: 'workload-cost', phase: 'bare', run: async (n, w) => [await workloadCost(n, w)] },
  { id: 'scale', phase: 'bare', run: async (n, w) => [...(await scale(n, w, 1)), ...(await scale(n, w, 2)), ...(await scale(n, w, 4))] },
  { id: 'boot', phase: 'linux', run: (n, w) => boot(n, w) },
  { id: 'virtio-console', phase: 'linux', run: async (n, w) => [await virtioConsole(n, w)] },
  { id: 'device-work', phase: 'linux', run: (n, w) => deviceWork(n, w) },
  { id: 'monitor-cost', phase: 'linux', run: async (n, w) => [await monitorCost(n, w)] },
  // `--runs 30` for the figure: 30 boots idle, then 30 with a core busy (about 1 h).
  { id: 'sandbox-stalls', phase: 'sandbox', run: (n) => sandboxStalls(n) },
  // `--runs 1` is enough for the figure: each run is a whole kvm phase (about 40 min for both sides).
  { id: 'kvm-phase', phase: 'sandbox', run: (n) => kvmPhase(n) },
];

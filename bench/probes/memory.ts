// Run in a fresh process by the memory cases: boots the halt-forever guest on SHAPE (a vCPU
// count or a topology shorthand) and, while every vCPU sits in KVM_RUN, prints this process's
// RSS and the part of it that is guest RAM (the smaps Rss of the guest mappings). With `smp`,
// it only boots the smp guest on the same shape and checks that it saw every vCPU with its
// APIC id (prints smpMs: Vm.create to Shutdown): a process that ran it first would carry its
// heap and pooled threads into the RSS. usage: memory.ts SHAPE [smp]
import { readFileSync } from 'node:fs';
import { buildGuest } from '../../src/fixtures/guests/build.ts';
import { parseTopologyShorthand } from '../../src/runner/scenario/topology-shorthand.ts';
import { allPlacements, type Topology } from '../../src/vmm/topology.ts';
import { shutdownVcpuPool } from '../../src/vmm/vcpu/pool.ts';
import { Vm } from '../../src/vmm/vm.ts';

const shapeArg = process.argv[2] ?? '1';
const shape: { vcpus: number } | { topology: Topology } = /^\d+$/.test(shapeArg) ? { vcpus: Number(shapeArg) } : { topology: parseTopologyShorthand(shapeArg) };
const statusKb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);

/** Rss (kB) of the mappings starting at the given addresses. */
function mappingRssKb(starts: bigint[]): number {
  const want = new Set(starts.map((a) => a.toString(16)));
  let kb = 0;
  let inside = false;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-[0-9a-f]+ /.exec(line);
    if (head) inside = want.has(head[1]!.replace(/^0+/, ''));
    else if (inside && line.startsWith('Rss:')) kb += Number(/(\d+)/.exec(line)![1]);
  }
  return kb;
}

async function bootSmp(topology: Topology): Promise<number> {
  const t0 = performance.now();
  const smp = await Vm.create({ topology, memoryMb: 64, guest: { kind: 'bare', image: await buildGuest('smp') }, timeoutMs: 600_000 });
  const r = await smp.run();
  const want = allPlacements(topology)
    .map((p) => `vcpu ${p.vcpu} apic ${p.apicId}`)
    .join('\n');
  if (r.exitAction !== 'Shutdown' || r.console.com1.trim() !== want) throw new Error(`smp on ${shapeArg} ended ${r.exitAction} without every vCPU's line`);
  return performance.now() - t0;
}
if (process.argv[3] === 'smp') {
  if (!('topology' in shape)) throw new Error('smp takes a topology shorthand');
  const smpMs = await bootSmp(shape.topology);
  await shutdownVcpuPool();
  console.log(JSON.stringify({ smpMs }));
  process.exit(0);
}

const image = await buildGuest('halt-forever');
const vm = await Vm.create({ ...shape, memoryMb: 64, guest: { kind: 'bare', image }, timeoutMs: 1500 });
const guestStarts = vm.memory.regions.map((r) => r.hostAddr);
const running = vm.run();
await new Promise((r) => setTimeout(r, 1000)); // every vCPU is in its hlt by now
const sample = { rssKb: statusKb('VmRSS'), guestKb: mappingRssKb(guestStarts) };
const r = await running;
if (r.exitAction !== 'Timeout') throw new Error(`halt-forever ended ${r.exitAction}`);
await shutdownVcpuPool();
console.log(JSON.stringify(sample));

// Run in a fresh process by the memory case: boots the halt-forever guest on VCPUS vCPUs and,
// while every vCPU sits in KVM_RUN, prints this process's RSS and the part of it that is
// guest RAM (the smaps Rss of the guest mappings). usage: memory.ts VCPUS
import { readFileSync } from 'node:fs';
import { buildGuest } from '../../src/fixtures/guests/build.ts';
import { shutdownVcpuPool } from '../../src/vmm/vcpu/pool.ts';
import { Vm } from '../../src/vmm/vm.ts';

const vcpus = Number(process.argv[2] ?? 1);
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

const image = await buildGuest('halt-forever');
const vm = await Vm.create({ vcpus, memoryMb: 64, guest: { kind: 'bare', image }, timeoutMs: 1500 });
const guestStarts = vm.memory.regions.map((r) => r.hostAddr);
const running = vm.run();
await new Promise((r) => setTimeout(r, 1000)); // every vCPU is in its hlt by now
const sample = { rssKb: statusKb('VmRSS'), guestKb: mappingRssKb(guestStarts) };
const r = await running;
if (r.exitAction !== 'Timeout') throw new Error(`halt-forever ended ${r.exitAction}`);
await shutdownVcpuPool();
console.log(JSON.stringify(sample));

#!/usr/bin/env node
// Times Vm.create + run for short bare guests, several in one process, with vCPU threads
// started fresh for every VM (the pool shut down after each: what a plain `new Worker` per
// vCPU costs) and reused from the pool. Rounds alternate the two so both see the same load.
// usage: node scripts/bench-vm-start.mjs [rounds]   (where /dev/kvm works, e.g. in the sandbox)
import { register } from 'tsx/esm/api';

register();
const { Vm } = await import('../src/vmm/vm.ts');
const { buildGuest } = await import('../src/fixtures/guests/build.ts');
const { shutdownVcpuPool } = await import('../src/vmm/vcpu/pool.ts');

const rounds = Number(process.argv[2] ?? 5);
const cases = [
  ['hello', 1],
  ['smp', 4],
];
const images = Object.fromEntries(await Promise.all(cases.map(async ([g]) => [g, await buildGuest(g)])));

async function boot(guest, vcpus) {
  const t0 = performance.now();
  const vm = await Vm.create({ vcpus, memoryMb: 64, guest: { kind: 'bare', image: images[guest] }, timeoutMs: 60_000 });
  const t1 = performance.now();
  const r = await vm.run();
  if (r.exitAction !== 'Shutdown') throw new Error(`${guest}: ${r.exitAction}`);
  if (process.env.BENCH_VERBOSE) console.error(`${guest} create ${(t1 - t0).toFixed(0)} ms`);
  return [t1 - t0, performance.now() - t1];
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [guest, vcpus] of cases) {
  const rows = { fresh: [], pooled: [] };
  await boot(guest, vcpus); // fills the pool for the first pooled round
  for (let i = 0; i < rounds; i++) {
    rows.pooled.push(await boot(guest, vcpus));
    await shutdownVcpuPool();
    rows.fresh.push(await boot(guest, vcpus)); // new threads, then they stay for the next round
  }
  for (const [mode, rs] of Object.entries(rows)) {
    const fmt = (xs) => xs.map((x) => x.toFixed(0)).join(' ');
    console.log(
      `${guest} x${vcpus} ${mode.padEnd(6)}: create ms [${fmt(rs.map((r) => r[0]))}] median ${median(rs.map((r) => r[0])).toFixed(0)}; run ms median ${median(rs.map((r) => r[1])).toFixed(0)}`,
    );
  }
}
await shutdownVcpuPool();

// Case device-work: the guest CPU time device work takes away, with the virtio queues worked on
// the vCPU thread that notified (`queue_work: vcpu`, before) and on the device thread woken by
// ioeventfds (`thread`, after). Two Linux guests: disk-heavy (4 KiB O_DIRECT reads from a
// virtio-blk disk) and console-heavy (text written to hvc0). The figure: the vCPU threads' CPU
// time outside guest mode over the whole run (boot included, which both sides share), summed
// over vCPUs; the note adds the device thread's own CPU time.
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ScenarioResult } from '../../src/runner/prepare.ts';
import { runScenario } from '../../src/runner/run-scenario.ts';
import { parseScenario } from '../../src/runner/scenario/load.ts';
import { caseResult, interleave, summarize, type CaseResult, type Where } from '../stats.ts';

const DISK_MIB = 64;
const LOADS = {
  disk: {
    title: `disk-heavy: ${DISK_MIB} MiB in 4 KiB O_DIRECT reads from virtio-blk`,
    devices: ['  console: virtio', '  blk: [{ path: device-work.img, readonly: true }]'],
    run: `dd if=/dev/vda of=/dev/null bs=4096 count=${DISK_MIB * 256} iflag=direct`,
  },
  console: {
    title: 'console-heavy: 256 KiB of text on hvc0',
    devices: ['  console: virtio'],
    run: 'yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx | head -c 262144',
  },
} as const;
type Load = keyof typeof LOADS;

/** One boot of the load with its queues worked where `queueWork` says. */
async function boot(dir: string, load: Load, queueWork: 'thread' | 'vcpu'): Promise<ScenarioResult> {
  const image = join(dir, 'device-work.img');
  writeFileSync(image, '');
  truncateSync(image, DISK_MIB << 20); // sparse: reads return zeros from the page cache
  const yaml = [
    `name: device-work-${load}-${queueWork}`,
    'kernel: debian-sched-ext',
    'vcpus: 2',
    'memory_mb: 512',
    'timeout_s: 900',
    'devices:',
    ...LOADS[load].devices,
    `  queue_work: ${queueWork}`,
    `run: ${LOADS[load].run}`,
  ].join('\n');
  const r = await runScenario(parseScenario(`${yaml}\n`, join(dir, `device-work-${load}.yaml`)));
  if (r.exitAction !== 'Shutdown' || !r.console.hvc0.includes('schedvm-init: run exit 0')) {
    throw new Error(`device-work ${load}/${queueWork}: ${r.exitAction}, ${r.fatalReason ?? ''}\n${r.console.hvc0.slice(-2000)}`);
  }
  if ((queueWork === 'thread') !== (r.deviceThread !== undefined)) throw new Error(`device-work ${load}/${queueWork}: device thread ${r.deviceThread ? 'ran' : 'missing'}`);
  return r;
}

const vmmMs = (r: ScenarioResult) => r.vcpus.reduce((sum, v) => sum + (v.cpuMs?.vmm ?? Number.NaN), 0);

export async function deviceWork(n: number, where: Where): Promise<CaseResult[]> {
  const out: CaseResult[] = [];
  // The disk on local storage (the sandbox's /tmp), not the host's cache over 9p.
  const dir = mkdtempSync(join(tmpdir(), 'schedvm-device-work-'));
  try {
    for (const load of Object.keys(LOADS) as Load[]) out.push(await measure(dir, load, n, where));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

async function measure(dir: string, load: Load, n: number, where: Where): Promise<CaseResult> {
  const runs = await interleave(
    n,
    () => boot(dir, load, 'thread'),
    () => boot(dir, load, 'vcpu'),
  );
  const deviceThread = summarize(runs.ours.map((r) => r.deviceThread!.cpuMs));
  return caseResult({
    name: `device work: vCPU threads' CPU time outside the guest, ${LOADS[load].title}, Linux boot included`,
    unit: 'ms',
    environment: where,
    ours: runs.ours.map(vmmMs),
    reference: { name: 'queues worked on the notifying vCPU thread', samples: runs.reference.map(vmmMs) },
    note: `the device thread itself used ${deviceThread.median} ms (${deviceThread.min}–${deviceThread.max}); 10 ms ticks`,
  });
}

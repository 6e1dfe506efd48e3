// Case 1, boot: from process start to the first line of /init and to the guest's reboot
// (Shutdown), `schedvm run` against QEMU (-accel kvm, direct kernel boot) with the same
// kernel, initramfs, command line, vCPUs and memory. Every side is a fresh process whose
// serial console this process reads as it streams.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from '../../src/fixtures/cache.ts';
import { INIT_START_MARKER } from '../../src/fixtures/linux/init-script.ts';
import { resolveKernel } from '../../src/fixtures/kernels/index.ts';
import { prepareScenario } from '../../src/runner/prepare.ts';
import { loadScenario } from '../../src/runner/scenario/load.ts';
import { run } from '../proc.ts';
import { caseResult, type CaseResult, type Where } from '../stats.ts';

const SCENARIO = fileURLToPath(new URL('../scenarios/boot.yaml', import.meta.url));
const CLI = fileURLToPath(new URL('../../bin/schedvm.mjs', import.meta.url));

interface Boot { initMs: number; exitMs: number }

async function timeBoot(cmd: string, args: string[]): Promise<Boot> {
  let initMs: number | undefined;
  const r = await run(cmd, args, { timeoutMs: 900_000, onLine: (l, ms) => { if (initMs === undefined && l.includes(INIT_START_MARKER)) initMs = ms; } });
  if (r.code !== 0 || initMs === undefined) throw new Error(`${cmd} ${args.slice(0, 6).join(' ')}...: exit ${r.code}, /init ${initMs === undefined ? 'never seen' : 'seen'}\n${(r.stdout + r.stderr).slice(-3000)}`);
  return { initMs, exitMs: r.wallMs };
}

/** QEMU machines compared, as -M values; microvm with only what the kernel's console needs. */
const MACHINES = [
  { name: 'QEMU microvm', machine: 'microvm,isa-serial=on,rtc=on,pit=on,pic=on,x-option-roms=off' },
  { name: 'QEMU q35', machine: 'q35' },
];

export async function boot(rounds: number, where: Where): Promise<CaseResult[]> {
  const scenario = loadScenario(SCENARIO);
  const prepared = await prepareScenario(scenario);
  const guest = prepared.config.guest;
  if (guest.kind !== 'linux' || !guest.initrd) throw new Error('boot scenario is not a Linux guest with an initramfs');
  const kernel = await resolveKernel(scenario.kernel!);
  const initrd = join(cacheDir('bench'), 'boot-initrd.img');
  writeFileSync(initrd, guest.initrd);
  const qemu = (machine: string) => [
    '-M', machine, '-accel', 'kvm', '-cpu', 'host', '-smp', String(scenario.vcpus ?? 1), '-m', String(scenario.memory_mb),
    '-nodefaults', '-no-user-config', '-nographic', '-serial', 'stdio', '-no-reboot',
    '-kernel', kernel.bzImage, '-initrd', initrd, '-append', guest.cmdline,
  ];
  const sides = [
    { name: 'schedvm', go: () => timeBoot(process.execPath, [CLI, 'run', SCENARIO]) },
    ...MACHINES.map((m) => ({ name: m.name, go: () => timeBoot('qemu-system-x86_64', qemu(m.machine)) })),
  ];
  const samples = new Map<string, Boot[]>(sides.map((s) => [s.name, []]));
  for (let i = 0; i < rounds; i++) {
    // Rotate the order every round so no side always follows the same one.
    for (let k = 0; k < sides.length; k++) {
      const s = sides[(i + k) % sides.length]!;
      samples.get(s.name)!.push(await s.go());
    }
  }
  const ours = samples.get('schedvm')!;
  const note = rounds < 5 ? `${rounds} runs per side: each boot costs tens of seconds in the sandbox` : undefined;
  return MACHINES.flatMap((m) => {
    const ref = samples.get(m.name)!;
    return (['initMs', 'exitMs'] as const).map((k) => caseResult({
      name: `boot to ${k === 'initMs' ? 'first /init line' : 'Shutdown'} (${scenario.vcpus} vCPUs, ${scenario.memory_mb} MiB, from process start)`,
      unit: 'ms', environment: where,
      ours: ours.map((b) => b[k]), reference: { name: `${m.name} -accel kvm`, samples: ref.map((b) => b[k]) },
      ...(note ? { note } : {}),
    }));
  });
}

// What the Linux cases share: one scenario's kernel, initramfs and command line, handed to
// `schedvm run` and to QEMU alike, and a clock on console lines as either side prints them.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from '../src/fixtures/cache.ts';
import { resolveKernel } from '../src/fixtures/kernels/index.ts';
import { prepareScenario } from '../src/runner/prepare.ts';
import { loadScenario } from '../src/runner/scenario/load.ts';
import type { Scenario } from '../src/runner/scenario/schema.ts';
import { buildInstalled, INSTALLED_CLI } from './installed.ts';
import { run } from './proc.ts';

export interface LinuxGuest {
  scenario: Scenario;
  /** The kernel ELF schedvm boots, unpacked from the bzImage (none: it boots the bzImage). */
  elf?: string;
  /** `schedvm run` of the scenario, schedvm as installed (dist/). */
  schedvm: [string, string[]];
  /**
   * QEMU with the same kernel, initramfs, command line, vCPUs and memory on machine `-M`;
   * `extra` adds devices, `append` command-line arguments (later ones win in Linux). With
   * `elf`, QEMU boots the kernel ELF schedvm boots (unpacked from the bzImage) through its PVH
   * entry, skipping the decompressor as schedvm does; else the bzImage.
   */
  qemu(machine: string, extra: string[], append?: string, elf?: boolean): [string, string[]];
}

export async function linuxGuest(scenarioFile: string): Promise<LinuxGuest> {
  await buildInstalled();
  const scenario = loadScenario(scenarioFile);
  const prepared = await prepareScenario(scenario);
  const guest = prepared.config.guest;
  if (guest.kind !== 'linux' || !guest.initrd) throw new Error(`${scenarioFile}: not a Linux guest with an initramfs`);
  const kernel = await resolveKernel(scenario.kernel!);
  const initrd = join(cacheDir('bench'), `${scenario.name}-initrd.img`);
  writeFileSync(initrd, guest.initrd);
  return {
    scenario,
    ...(guest.elf ? { elf: guest.elf } : {}),
    schedvm: [process.execPath, [INSTALLED_CLI, 'run', scenarioFile]],
    qemu: (machine, extra, append, elf) => [
      'qemu-system-x86_64',
      [
        '-M',
        machine,
        '-accel',
        'kvm',
        '-cpu',
        'host',
        '-smp',
        String(scenario.vcpus ?? 1),
        '-m',
        String(scenario.memory_mb),
        '-nodefaults',
        '-no-user-config',
        '-nographic',
        '-no-reboot',
        ...extra,
        '-kernel',
        elf ? (guest.elf ?? fail(`${scenarioFile}: no unpacked kernel ELF to give QEMU (prepare's warnings say why)`)) : kernel.bzImage,
        '-initrd',
        initrd,
        '-append',
        append ? `${guest.cmdline} ${append}` : guest.cmdline,
      ],
    ],
  };
}

/** Milliseconds from spawn to the first stdout line containing each marker, and to exit. */
export async function timeMarkers([cmd, args]: [string, string[]], markers: string[], timeoutMs = 900_000): Promise<{ at: number[]; exitMs: number }> {
  const at: (number | undefined)[] = markers.map(() => undefined);
  const r = await run(cmd, args, {
    timeoutMs,
    onLine: (line, ms) =>
      markers.forEach((m, i) => {
        if (at[i] === undefined && line.includes(m)) at[i] = ms;
      }),
  });
  const missing = markers.filter((_, i) => at[i] === undefined);
  if (r.code !== 0 || missing.length) throw new Error(`${cmd} ${args.slice(0, 4).join(' ')}...: exit ${r.code}, never printed ${missing.join(', ') || '-'}\n${(r.stdout + r.stderr).slice(-3000)}`);
  return { at: at as number[], exitMs: r.wallMs };
}

/** One sample per side per round, the order rotated every round. */
export async function rotate<T>(rounds: number, sides: Array<{ name: string; go: () => Promise<T> }>): Promise<Map<string, T[]>> {
  const samples = new Map<string, T[]>(sides.map((s) => [s.name, []]));
  for (let i = 0; i < rounds; i++) {
    for (let k = 0; k < sides.length; k++) {
      const s = sides[(i + k) % sides.length]!;
      samples.get(s.name)!.push(await s.go());
    }
  }
  return samples;
}

function fail(message: string): never {
  throw new Error(message);
}

// Case 1, boot: from process start to the first line of /init and to the guest's reboot
// (Shutdown), `schedvm run` (as installed: dist/) against QEMU (-accel kvm, direct kernel boot) with the same
// kernel, initramfs, command line, vCPUs and memory, each a fresh process whose serial
// console this process reads as it streams.
import { fileURLToPath } from 'node:url';
import { INIT_START_MARKER } from '../../src/fixtures/linux/init-script.ts';
import { linuxGuest, rotate, timeMarkers } from '../linux-guest.ts';
import { caseResult, type CaseResult, type Where } from '../stats.ts';

const SCENARIO = fileURLToPath(new URL('../scenarios/boot.yaml', import.meta.url));

/**
 * QEMU machines compared; microvm with only the legacy devices the kernel's console and timers
 * use. microvm has no i8042: reboot=k would spin 10 x 65536 status-port reads (each an exit,
 * ~1 ms nested) before falling back, so it ends by triple fault (reboot=t) instead.
 */
const MICROVM = 'microvm,isa-serial=on,rtc=on,pit=on,pic=on,x-option-roms=off';
/**
 * schedvm boots the kernel ELF it unpacked from the bzImage (no decompressor in the guest);
 * QEMU given the bzImage runs the decompressor, so microvm also boots that same ELF via PVH.
 */
const MACHINES = [
  { name: 'QEMU microvm -accel kvm', machine: MICROVM, append: 'reboot=t' },
  { name: 'QEMU microvm -accel kvm, the same unpacked ELF via PVH', machine: MICROVM, append: 'reboot=t', elf: true },
  { name: 'QEMU q35 -accel kvm', machine: 'q35' },
];

export async function boot(rounds: number, where: Where): Promise<CaseResult[]> {
  const g = await linuxGuest(SCENARIO);
  const time = (cmd: [string, string[]]) => async () => {
    const t = await timeMarkers(cmd, [INIT_START_MARKER]);
    return { initMs: t.at[0]!, exitMs: t.exitMs };
  };
  // Without an unpacked ELF schedvm boots the bzImage too, and there is no ELF to give QEMU.
  const machines = MACHINES.filter((m) => !m.elf || g.elf);
  const samples = await rotate(rounds, [{ name: 'schedvm', go: time(g.schedvm) }, ...machines.map((m) => ({ name: m.name, go: time(g.qemu(m.machine, ['-serial', 'stdio'], m.append, m.elf)) }))]);
  const ours = samples.get('schedvm')!;
  const note = ['schedvm as installed (dist/)', ...(rounds < 5 ? [`${rounds} runs per side: each boot costs tens of seconds in the sandbox`] : [])].join('; ');
  const { vcpus, memory_mb } = g.scenario;
  return machines.flatMap((m) =>
    (['initMs', 'exitMs'] as const).map((k) =>
      caseResult({
        name: `boot to ${k === 'initMs' ? 'first /init line' : 'Shutdown'} (${vcpus} vCPUs, ${memory_mb} MiB, from process start)`,
        unit: 'ms',
        environment: where,
        ours: ours.map((b) => b[k]),
        reference: { name: m.name, samples: samples.get(m.name)!.map((b) => b[k]) },
        note,
      }),
    ),
  );
}

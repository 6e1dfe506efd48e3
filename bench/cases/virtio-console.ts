// Case 3 over virtio: the bytes the scenario's run line prints by the Linux guest on hvc0, timed from the line before it
// to the line after it as they reach this process, `schedvm run` against QEMU microvm with a
// virtio-mmio virtconsole (found through ACPI, as schedvm's are) and the same initramfs.
import { fileURLToPath } from 'node:url';
import { linuxGuest, rotate, timeMarkers } from '../linux-guest.ts';
import { caseResult, type CaseResult, type Where } from '../stats.ts';

const SCENARIO = fileURLToPath(new URL('../scenarios/virtio-console.yaml', import.meta.url));
const MARKERS = ['bench-flood-begin', 'bench-flood-end'];

export async function virtioConsole(rounds: number, where: Where): Promise<CaseResult> {
  const g = await linuxGuest(SCENARIO);
  const time = (cmd: [string, string[]]) => async () => {
    const t = await timeMarkers(cmd, MARKERS);
    return t.at[1]! - t.at[0]!;
  };
  const qemu = g.qemu('microvm,acpi=on,rtc=on,pit=on,pic=on,x-option-roms=off', ['-device', 'virtio-serial-device', '-chardev', 'stdio,id=hvc', '-device', 'virtconsole,chardev=hvc'], 'reboot=t'); // no i8042 on microvm: see boot.ts
  const samples = await rotate(rounds, [
    { name: 'schedvm', go: time(g.schedvm) },
    { name: 'qemu', go: time(qemu) },
  ]);
  const kib = Number(/head -c (\d+)/.exec(g.scenario.run ?? '')?.[1]) / 1024;
  return caseResult({
    name: `console: ${kib} KiB over virtio-console (hvc0), Linux guest`,
    unit: 'ms',
    environment: where,
    ours: samples.get('schedvm')!,
    reference: { name: 'QEMU microvm -accel kvm, virtconsole', samples: samples.get('qemu')! },
    ...(rounds < 5 ? { note: `${rounds} runs per side: each costs a Linux boot in the sandbox` } : {}),
  });
}

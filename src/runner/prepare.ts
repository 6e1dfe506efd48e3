// From a validated scenario to a VM configuration: build or fetch the payload (bare-metal
// guest, or kernel + initramfs), and afterwards read the Linux guest's report.
import { readFile } from 'node:fs/promises';
import { buildGuest } from '../fixtures/guests/build.ts';
import { buildInitramfs } from '../fixtures/initramfs/builder.ts';
import { kernelWarnings, resolveKernel } from '../fixtures/kernels/index.ts';
import { INIT_START_MARKER, initScript } from '../fixtures/linux/init-script.ts';
import { parseGuestReport, type GuestReport } from '../fixtures/linux/report.ts';
import { flatTopology } from '../vmm/topology.ts';
import type { ConsolePort, VmConfig, VmResult } from '../vmm/vm.ts';
import type { Scenario } from './scenario/schema.ts';
import { resolveWatchMechanism } from './watch-mechanism.ts';

/** What every Linux guest gets: serial console, i8042 reboot (Shutdown), no PCI probing. */
export const BASE_CMDLINE = 'console=ttyS0 reboot=k panic=-1 pci=off i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd';

export interface PreparedScenario {
  config: Omit<VmConfig, 'onConsole'>;
  kernel?: { name: string; version: string };
  /** Things the chosen kernel lacks for this scenario. */
  warnings: string[];
}

export interface ScenarioResult extends VmResult {
  scenario: string;
  kernel?: { name: string; version: string };
  warnings: string[];
  /** Milliseconds from VM start to the first line of the Linux guest's /init. */
  bootMs?: number;
  /** What the Linux guest reported seeing (CPUs, caches, NUMA nodes). */
  guest?: GuestReport;
}

export async function prepareScenario(s: Scenario): Promise<PreparedScenario> {
  const topology = s.topology ?? flatTopology(s.vcpus);
  const common = {
    topology,
    memoryMb: s.memory_mb,
    timeoutMs: s.timeout_s * 1000,
    watchpoints: s.watchpoints,
    ...(s.watchpoints.length > 0 ? { watchMechanism: await resolveWatchMechanism() } : {}),
  };
  if (s.guest !== undefined) {
    return { config: { ...common, guest: { kind: 'bare', image: await buildGuest(s.guest), ...(s.guest_arg !== undefined ? { arg: s.guest_arg } : {}) } }, warnings: [] };
  }
  const kernel = await resolveKernel(s.kernel!);
  const warnings = kernelWarnings(kernel, { numa: topology.numa_nodes > 1 });
  const initrd = await buildInitramfs({ init: initScript(s.run !== undefined ? { run: s.run } : {}), gzip: true });
  const [bzImage, initrdBytes] = await Promise.all([readFile(kernel.bzImage), readFile(initrd.path)]);
  return {
    config: {
      ...common,
      guest: { kind: 'linux', bzImage, initrd: initrdBytes, cmdline: `${BASE_CMDLINE} ${s.cmdline}`.trim() },
    },
    kernel: { name: kernel.name, version: kernel.version },
    warnings,
  };
}

/** Times the first /init line as it streams past; pass `watch` as the VM's onConsole. */
export class BootClock {
  private t0 = performance.now();
  private seen = '';
  bootMs?: number;
  start(): void {
    this.t0 = performance.now();
  }
  watch = (port: ConsolePort, text: string): void => {
    if (this.bootMs !== undefined || port !== 'com1') return;
    this.seen = (this.seen + text).slice(-4096);
    if (this.seen.includes(INIT_START_MARKER)) this.bootMs = performance.now() - this.t0;
  };
}

export function scenarioResult(s: Scenario, prepared: PreparedScenario, r: VmResult, clock?: BootClock): ScenarioResult {
  const guest = s.kernel !== undefined ? parseGuestReport(r.console.com1) : undefined;
  return {
    scenario: s.name,
    ...r,
    ...(prepared.kernel ? { kernel: prepared.kernel } : {}),
    warnings: prepared.warnings,
    ...(clock?.bootMs !== undefined ? { bootMs: clock.bootMs } : {}),
    ...(guest ? { guest } : {}),
  };
}

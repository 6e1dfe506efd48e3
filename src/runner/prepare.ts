// From a validated scenario to a VM configuration: build or fetch the payload (bare-metal
// guest, or kernel + initramfs), and afterwards read the Linux guest's report.
import { UserError } from '../errors.ts';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { buildGuest } from '../fixtures/guests/build.ts';
import { buildInitramfs } from '../fixtures/initramfs/builder.ts';
import { kernelWarnings, resolveKernel, type Kernel } from '../fixtures/kernels/index.ts';
import { kernelBootElf } from '../fixtures/kernels/boot-elf.ts';
import { kernelBtf } from '../fixtures/schedulers/vmlinux.ts';
import { INIT_START_MARKER, initScript } from '../fixtures/linux/init-script.ts';
import { parseGuestReport, type GuestReport } from '../fixtures/linux/report.ts';
import { readBzImageSetup } from '../vmm/arch.ts';
import { flatTopology } from '../vmm/topology.ts';
import type { ConsolePort, SnapshotRecord, Vm, VmConfig, VmResult } from '../vmm/vm.ts';
import type { InProcessPeer } from '../vmm/devices/virtio/net/backend.ts';
import type { TapBackend } from '../vmm/devices/virtio/net/tap.ts';
import { consoleArg, driverModules, guestConsoleText, scenarioDevices } from './devices.ts';
import type { KernelSymbols } from './kallsyms.ts';
import { EXIT_KIND_LATCH_FROM, kallsymsShell, KernelWatch, planSymbols, type KernelWatchPlan, type SymbolWatch } from './kernel-watch.ts';
import type { Scenario } from './scenario/schema.ts';
import { schedulerPayload, schedulerResult, type SchedulerResult } from './scheduler.ts';
import { stepsResult, type StepResult } from './steps.ts';
import { rqLayout } from './monitor/layout.ts';
import { monitorResult, type MonitorResult } from './monitor/result.ts';
import { resolveWatchMechanism } from './watch-mechanism.ts';
import { workloadExits, workloadPayload, workloadResult } from './workload.ts';
import type { WorkloadResult } from '../fixtures/workload/metrics.ts';
import type { WorkloadRun } from '../fixtures/workload/command.ts';
import { compareWithBaseline, type WorkloadBaseline } from './baseline.ts';
import { noteBootStall } from './progress.ts';

/**
 * What every Linux guest gets besides its console=: i8042 reboot (Shutdown), no PCI probing, and
 * no clocksource watchdog (tsc=nowatchdog). Linux 7.x's watchdog checks inter-CPU TSC skew by
 * spinning on the boot CPU, interrupts off, until a remote CPU answers an IPI, with a timeout read
 * from the current clocksource. Before the first clocksource switch that clocksource is jiffies,
 * and the switch itself runs under stop_machine: a watchdog tick taken between the boot CPU's
 * ack and its own irq-off step waits on a CPU already spinning with interrupts off, and jiffies
 * never move again (a guest stall seen as vCPU 0 in watchdog_check_skew, the rest in
 * multi_cpu_stop). Its irq-off spins every 0.5 s would also skew the latencies a scheduler test
 * measures; tsc and kvm-clock come from the same host TSC, so there is nothing to watch.
 */
export const BASE_CMDLINE = 'reboot=k panic=-1 pci=off i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd tsc=nowatchdog';

/**
 * Inside the schedvm sandbox the "hardware" is QEMU's emulated SVM, which does not hand a nested
 * guest's XSETBV to KVM: the guest then sees XSAVE sizes that contradict its XCR0 (Linux 6.1
 * warns and drops XSAVE; 7.x oopses). Such guests run without XSAVE there.
 */
function sandboxCmdline(): { args: string; warning?: string } {
  if (process.env.SCHEDVM_IN_SANDBOX !== '1') return { args: '' };
  return { args: 'noxsave', warning: 'running in the sandbox (emulated SVM): the guest kernel boots with noxsave' };
}

/** The panic message line, when the guest kernel panicked (panic=-1 then reboots: a "Shutdown"). */
export function kernelPanic(console: string): string | undefined {
  const m = /Kernel panic - not syncing: [^\r\n]*/.exec(console);
  return m?.[0];
}

export interface PreparedScenario {
  config: Omit<VmConfig, 'onConsole'>;
  kernel?: { name: string; version: string };
  /** Things the chosen kernel lacks for this scenario. */
  warnings: string[];
  /** The in-process host on the guest's network (devices.net.backend: peer). */
  netPeer?: InProcessPeer;
  /** The host TAP on the guest's network (devices.net.backend: tap); its name once the VM runs. */
  netTap?: TapBackend;
  /** Linux guests: the kernel's symbol table and watchpoints on its variables, read and armed while it runs (see BootClock). */
  kernelWatch?: KernelWatchPlan;
  /** Linux guests: how long /init may take to start (boot_timeout_s). */
  bootTimeoutMs?: number;
}

export interface ScenarioResult extends VmResult {
  scenario: string;
  kernel?: { name: string; version: string };
  warnings: string[];
  /** Milliseconds from VM start to the first line of the Linux guest's /init. */
  bootMs?: number;
  /** Set when the VM was stopped because /init had not started within boot_timeout_s: says so, with the console's last line. */
  bootStalled?: string;
  /** What the Linux guest reported seeing (CPUs, caches, NUMA nodes). */
  guest?: GuestReport;
  /** The kernel's panic line, if it panicked. */
  panic?: string;
  /** The scenario's scheduler: whether it loaded, how it exited, the workload's progress. */
  scheduler?: SchedulerResult;
  /** The scenario's steps: each one's outcome, time and any scheduler exit it caused. */
  steps?: StepResult[];
  /** The runqueue monitor's samples and what they show. */
  monitor?: MonitorResult;
  /** The workload program's measurements (per thread, per group, per CPU), when it ran and finished. */
  workload?: WorkloadResult;
  /** The workload program's exit status per run that ended (non-zero: it crashed or a group failed; its output is in the console). */
  workloadExit?: Partial<Record<WorkloadRun, number>>;
  /** With workload.baseline: the same workload under the kernel's default scheduler first, and the ratios. */
  baseline?: WorkloadBaseline;
  /** What became of each kernel-symbol watch (armed where, or why not). */
  kernelWatch?: string[];
  /** Linux guests: how reading the kernel's symbol table went (`N symbols in M ms`, or why not). */
  kernelSymbols?: string;
}

export async function prepareScenario(s: Scenario): Promise<PreparedScenario> {
  const topology = s.topology ?? flatTopology(s.vcpus);
  const dev = scenarioDevices(s);
  const common = {
    topology,
    devices: dev.devices,
    memoryMb: s.memory_mb,
    timeoutMs: s.timeout_s * 1000,
    watchpoints: s.watchpoints.flatMap((w) => (w.address !== undefined ? [{ ...w, address: w.address, ...(w.kind === 'exit_kind' ? { latchFrom: EXIT_KIND_LATCH_FROM } : {}) }] : [])),
    ...(s.watchpoints.length > 0 || s.scheduler ? { watchMechanism: await resolveWatchMechanism() } : {}),
  };
  if (s.guest !== undefined) {
    return { config: { ...common, guest: { kind: 'bare', image: await buildGuest(s.guest), ...(s.guest_arg !== undefined ? { arg: s.guest_arg } : {}) } }, warnings: [] };
  }
  if (s.kernel === undefined) throw new UserError(`${s.name} is a gauntlet (kernels): boot one of its entries (gauntletOf)`);
  const kernel = await resolveKernel(s.kernel);
  const sandbox = sandboxCmdline();
  const drivers = driverModules(dev, kernel);
  const needsSched = s.scheduler !== undefined;
  const warnings = [...kernelWarnings(kernel, { numa: topology.numa_nodes > 1, schedExt: needsSched, btf: needsSched }), ...(sandbox.warning ? [sandbox.warning] : [])];
  const kernelWatch = await kernelWatchPlan(s, kernel, warnings);
  const symbols = planSymbols(kernelWatch);
  const program = await workloadPayload(s);
  const sched = needsSched ? await schedulerPayload(s, kernel, program, kernelWatch?.exitKindOffset !== undefined) : undefined;
  const programs = (s.workload?.programs ?? []).map((host) => ({ host, guest: `/usr/bin/${basename(host)}` }));
  const files = [...(sched?.files ?? []), ...(program?.files ?? []), ...programs];
  const initrd = await buildInitramfs({
    init: initScript({
      ...(drivers ? { modules: drivers.paths } : {}),
      ...(dev.console === 'hvc0' ? { console: 'hvc0' as const } : {}),
      ...(s.run !== undefined ? { run: s.run } : {}),
      ...(sched ? { scheduler: sched.script } : {}),
      ...(program && !sched ? { workload: program.shell } : {}),
      early: kallsymsShell(symbols),
    }),
    ...(files.length ? { files } : {}),
    ...(drivers ? { modules: { dir: drivers.dir, names: drivers.names } } : {}),
    gzip: true,
  });
  // x86-64 boots the bzImage's kernel ELF, unpacked once on the host (boot-elf.ts): of the
  // bzImage itself only the setup header is read then.
  const elf = process.arch === 'x64' ? await kernelBootElf(kernel) : undefined;
  const [bzImage, initrdBytes] = await Promise.all([elf && 'path' in elf ? readBzImageSetup(kernel.bzImage) : readFile(kernel.bzImage), readFile(initrd.path)]);
  if (elf && 'note' in elf) warnings.push(`kernel ${kernel.version}: booting its bzImage, whose decompressor runs in the guest (slower), as it could not be unpacked: ${elf.note}`);
  return {
    config: {
      ...common,
      guest: {
        kind: 'linux',
        bzImage,
        ...(elf && 'path' in elf ? { elf: elf.path } : {}),
        initrd: initrdBytes,
        cmdline: [consoleArg(dev), BASE_CMDLINE, sandbox.args, s.cmdline].filter(Boolean).join(' '),
      },
    },
    kernel: { name: kernel.name, version: kernel.version },
    warnings,
    ...(dev.netPeer ? { netPeer: dev.netPeer } : {}),
    ...(dev.netTap ? { netTap: dev.netTap } : {}),
    kernelWatch,
    bootTimeoutMs: s.boot_timeout_s * 1000,
  };
}

/**
 * What the host watches in a Linux guest's kernel for `s`: always its symbol table (to
 * symbolise snapshots); its symbol watchpoints; and with a scheduler
 * the exit-kind watch (scx_sched.exit_kind from the kernel's BTF; without it: a warning, and
 * the exit kind comes from the guest's report alone).
 */
async function kernelWatchPlan(s: Scenario, kernel: Kernel, warnings: string[]): Promise<KernelWatchPlan> {
  const watches: SymbolWatch[] = s.watchpoints.flatMap((w) => (w.symbol !== undefined ? [{ name: w.name, symbol: w.symbol, offset: w.offset ?? 0, len: w.len, kind: w.kind, freeze: w.freeze }] : []));
  let exitKindOffset: number | undefined;
  if (s.scheduler) {
    try {
      exitKindOffset = (await kernelBtf(kernel)).memberOffset('scx_sched', 'exit_kind');
    } catch (e) {
      warnings.push(`no host-side exit-kind watch: ${(e as Error).message}`);
    }
  }
  let monitor: KernelWatchPlan['monitor'];
  if (s.monitor) {
    try {
      monitor = { layout: rqLayout(await kernelBtf(kernel)), hz: s.monitor.hz, cpus: s.vcpus };
    } catch (e) {
      warnings.push(`no runqueue monitor: ${(e as Error).message}`);
    }
  }
  return { watches, ...(exitKindOffset !== undefined ? { exitKindOffset } : {}), ...(monitor ? { monitor } : {}) };
}

/** How long a stalled boot's snapshot may take before the stall is noted without it. */
const STALL_FREEZE_MS = 20_000;

/**
 * Follows a run's console: times the first /init line, stops a Linux guest whose /init has not
 * started within its boot timeout, and arms the scenario's kernel watchpoints as the guest
 * reports their addresses. Pass `watch` as the VM's onConsole, start(vm) when it runs, and
 * end() when it has ended.
 */
export class BootClock {
  private t0 = performance.now();
  private seen = '';
  private deadline?: NodeJS.Timeout;
  bootMs?: number;
  /** The boot timeout stopped the VM: why, for the result. */
  bootStalled?: string;
  readonly kernelWatch?: KernelWatch;
  constructor(
    private readonly prepared: Pick<PreparedScenario, 'kernelWatch' | 'bootTimeoutMs'> = {},
    private readonly scenario = 'scenario',
  ) {
    if (prepared.kernelWatch) this.kernelWatch = new KernelWatch(prepared.kernelWatch);
  }
  start(vm?: Vm): void {
    this.t0 = performance.now();
    if (!vm) return;
    this.kernelWatch?.attach(vm);
    const ms = this.prepared.bootTimeoutMs;
    if (ms !== undefined) this.deadline = setTimeout(() => void this.stall(vm, ms), ms);
  }
  end(): void {
    clearTimeout(this.deadline);
  }
  watch = (port: ConsolePort, text: string): void => {
    this.kernelWatch?.watch(port, text);
    if (this.bootMs !== undefined || port === 'com2') return; // COM1 or hvc0: the guest console
    this.seen = (this.seen + text).slice(-4096);
    if (!this.seen.includes(INIT_START_MARKER)) return;
    this.bootMs = performance.now() - this.t0;
    this.end();
  };

  /** Stopped as a timeout is: each vCPU snapshotted first (where was the boot stuck?), and that noted for `schedvm test`. */
  private async stall(vm: Vm, ms: number): Promise<void> {
    if (this.bootMs !== undefined || vm.ended) return;
    const last = this.seen.trimEnd().split('\n').at(-1)?.trim();
    const lastLine = last ? JSON.stringify(last) : '(none)';
    this.bootStalled = `/init had not started after boot_timeout_s (${ms / 1000} s); the console's last line: ${lastLine}`;
    let snaps: SnapshotRecord[] = [];
    try {
      snaps = await Promise.race([vm.freeze('boot-timeout'), new Promise<never>((_, no) => setTimeout(() => no(new Error('freeze timed out')), STALL_FREEZE_MS).unref())]);
    } catch {
      // it ended meanwhile, or would not freeze: noted without registers
    }
    noteBootStall(this.scenario, [`last line ${lastLine}`, ...snaps.map((s) => `vCPU ${s.vcpu} ${s.text}`)].join('; '));
    vm.stop();
  }
}

/** How the host-side exit-kind watch went: armed where, or why not. */
function exitKindWatchNote(kw: KernelWatch | undefined): string {
  if (!kw) return "not armed: no scx_sched.exit_kind offset (see warnings); the exit kind comes from the guest's report";
  return kw.notes.find((n) => n.startsWith('exit-kind watch:')) ?? 'not armed: the scheduler was never reported enabled';
}

/** Slot 0 (the exit-kind watch), when it latched. */
function exitKindHit(r: VmResult): VmResult['watchpoints'][string] | undefined {
  return Object.values(r.watchpoints).find((w) => w.slot === 0 && w.hit);
}

export function scenarioResult(s: Scenario, prepared: PreparedScenario, r: VmResult, clock?: BootClock): ScenarioResult {
  const text = guestConsoleText(s, r.console);
  const guest = s.kernel !== undefined ? parseGuestReport(text) : undefined;
  const panic = s.kernel !== undefined ? kernelPanic(text) : undefined;
  // Decoding the guest's symbol table costs seconds in the sandbox: only for snapshots.
  const symbols = r.snapshots.length > 0 ? clock?.kernelWatch?.kernelSymbols : undefined;
  const kindHit = exitKindHit(r);
  const workload = s.kernel !== undefined ? workloadResult(s, text) : undefined;
  const base = s.workload?.baseline !== undefined ? workloadResult(s, text, 'baseline') : undefined;
  const exits = s.kernel !== undefined ? workloadExits(s, text) : undefined;
  const kw = clock?.kernelWatch;
  const steps = stepsResult(s, text, kw?.stepTimes);
  kw?.monitor?.stop();
  const monitor = s.monitor
    ? monitorResult(s.monitor.hz, kw?.monitor?.samples ?? [], {
        note: kw?.monitorNote,
        stoppedEarly: kw?.monitor?.failure,
        costMs: kw?.monitor?.costMs,
        // With a scheduler, the checks cover its time only (not boot, nor the kernel's scheduler between a detach and an attach).
        windows: s.scheduler && kw ? kw.schedulerWindows.map((w) => ({ fromMs: w.fromMs, toMs: w.toMs ?? kw.monitor?.elapsedMs() ?? w.fromMs })) : undefined,
      })
    : undefined;
  return {
    scenario: s.name,
    ...r,
    ...(symbols ? { snapshots: r.snapshots.map((snap) => symbolizeSnapshot(snap, symbols)) } : {}),
    ...(prepared.kernel ? { kernel: prepared.kernel } : {}),
    warnings: prepared.warnings,
    ...(clock?.bootMs !== undefined ? { bootMs: clock.bootMs } : {}),
    ...(clock?.bootStalled !== undefined ? { bootStalled: clock.bootStalled } : {}),
    ...(guest ? { guest } : {}),
    ...(panic ? { panic } : {}),
    ...(s.scheduler
      ? { scheduler: schedulerResult(s, text, kindHit !== undefined, exitKindWatchNote(clock?.kernelWatch), kindHit?.value !== undefined ? Number(kindHit.value) : undefined, workload) }
      : {}),
    ...(workload ? { workload } : {}),
    ...(steps ? { steps } : {}),
    ...(monitor ? { monitor } : {}),
    ...(exits ? { workloadExit: exits } : {}),
    ...(base ? { baseline: { workload: base, ...(workload ? { ratios: compareWithBaseline(workload, base) } : {}) } } : {}),
    ...(clock?.kernelWatch ? { kernelWatch: clock.kernelWatch.notes } : {}),
    ...(clock?.kernelWatch?.symbolsNote ? { kernelSymbols: clock.kernelWatch.symbolsNote } : {}),
  };
}

/** `ip=0x... (func+0x37) sp=...` and `symbol` when the ip is in the guest kernel's text. */
function symbolizeSnapshot(snap: SnapshotRecord, symbols: KernelSymbols): SnapshotRecord {
  const symbol = symbols.symbolize(BigInt(snap.instruction_pointer));
  return symbol ? { ...snap, symbol, text: snap.text.replace(/^ip=(\S+)/, `ip=$1 (${symbol})`) } : snap;
}

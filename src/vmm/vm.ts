// A VM: its RAM, devices and one worker thread per vCPU, driven from the caller's event loop.
import { Serial8250 } from './devices/serial.ts';
import type { Fault } from './devices/virtio/errors.ts';
import { planVirtioWindows, VirtioHost, type VirtioDevicesConfig } from './devices/virtio/wiring.ts';
import { Kvm, KvmError, type VmFd } from './kvm.ts';
import { GuestMemory } from './memory.ts';
import {
  close, EFD_CLOEXEC, EFD_NONBLOCK, errnoName, eventfd, eventfdDrain, eventfdSignal, hostView, SIGUSR2, tgkill,
} from './sys/libc.ts';
import { KVM_CAP_IMMEDIATE_EXIT, KVM_CAP_MAX_VCPUS, KVM_CAP_READONLY_MEM, KVM_CAP_TSC_DEADLINE_TIMER, kvmRun } from './sys/kvm-abi.ts';
import { ActionCode, FATAL_FAIL_ENTRY, VcpuState, VmControl } from './vcpu/control.ts';
import { WatchpointLatch, type ArmedSlot } from './vcpu/latch.ts';
import { formatSnapshot, snapshotToHex, type VcpuRegSnapshot, type VcpuRegSnapshotHex } from './vcpu/snapshot.ts';
import { pagesOf, planMemslots, type Memslot } from './memslots.ts';
import { armedSlots, assignSlots, freezeMask, type WatchpointResult, type WatchpointSpec } from './watchpoints.ts';
import { runVcpu } from './vcpu/pool.ts';
import type { VcpuWorkerInit, VcpuWorkerMessage } from './vcpu/protocol.ts';
import type { RunLoopStats } from './vcpu/run-loop.ts';
import { cpuPlacement, flatTopology, formatTopology, validateTopology, vcpuCount, type Topology } from './topology.ts';
import { cpuidForVcpu } from './x86_64/cpuid.ts';
import { BARE_LOAD_ADDR, bareStackTop } from './x86_64/layout.ts';
import { writeLongModeTables } from './x86_64/long-mode.ts';
import {
  COM1_GSI, COM2_GSI, createChipset, loadPayload, ramFor, type GuestPayload, type MachinePlan,
} from './x86_64/machine.ts';

export type SerialPort = 'com1' | 'com2';
/** The UARTs, and hvc0: the virtio-console. */
export type ConsolePort = SerialPort | 'hvc0';
export type ExitActionName = 'Shutdown' | 'Fatal' | 'Timeout';

export type { BareGuest, LinuxGuest } from './x86_64/machine.ts';

export interface VmConfig {
  /** vCPU count; with a topology, it must match (or be left out). */
  vcpus?: number;
  /** CPU topology the guest sees (CPUID, ACPI MADT/SRAT/SLIT); default one LLC of `vcpus` cores. */
  topology?: Topology;
  memoryMb: number;
  guest: GuestPayload;
  /** The run ends with exitAction "Timeout" after this long. */
  timeoutMs?: number;
  /** Console output as it arrives. */
  onConsole?: (port: ConsolePort, text: string) => void;
  /** Hardware watchpoints (at most one exit_kind, three user). */
  watchpoints?: WatchpointSpec[];
  /**
   * How watchpoints are implemented: the x86 debug registers (default), or `writetrap`:
   * watched pages mapped read-only so stores exit to the VMM (write watches only), for hosts
   * whose (nested) KVM never reports debug-register hits. See probeWatchMechanism().
   */
  watchMechanism?: WatchMechanism;
  /** Keep guest RAM readable (vm.memory) after run() until dispose(); by default run() frees it. */
  keepMemory?: boolean;
  /** UARTs and virtio-mmio devices (virtio: Linux guests only, described in the DSDT). */
  devices?: VmDevices;
}

export interface VmDevices extends VirtioDevicesConfig {
  /** UARTs the guest sees; default both. */
  serial?: SerialPort[];
}

export type WatchMechanism = 'debugregs' | 'writetrap';

/** One vCPU's registers at a freeze, and what caused it. */
export interface SnapshotRecord extends VcpuRegSnapshotHex {
  vcpu: number;
  /** `api` (vm.freeze()), `timeout`, `fatal`, or `watchpoint:<name>`. */
  trigger: string;
  /** ip=... sp=... ptroot=...; a Linux guest's kernel ip carries its symbol: ip=0x... (func+0x37) */
  text: string;
  /** `func+0x37` when the ip is in a Linux guest kernel's text (symbols from its kallsyms). */
  symbol?: string;
}

export interface VcpuResult {
  index: number;
  exits: number;
  runErrors: number;
  lastRunError?: string;
}

export interface VmResult {
  exitAction: ExitActionName;
  fatalReason?: string;
  /** Output per port (hvc0: the virtio-console; empty without one). */
  console: Record<ConsolePort, string>;
  vcpus: VcpuResult[];
  watchpoints: Record<string, WatchpointResult>;
  watchMechanism: WatchMechanism;
  snapshots: SnapshotRecord[];
  /** virtio devices the guest drove into DEVICE_NEEDS_RESET (absent when none). */
  deviceFaults?: Array<{ device: string; fault: Fault }>;
  wallMs: number;
}

const CONSOLE_POLL_MS = 20;
const KICK_INTERVAL_MS = 20;
const PARK_POLL_MS = 2;
/** How long a freeze waits for every vCPU to park before giving up on the stragglers. */
const PARK_TIMEOUT_MS = 5000;

let kickHandlerInstalled = false;
function installKickHandler(): void {
  // SIGUSR2 only has to interrupt KVM_RUN on a vCPU thread; without a handler it would kill us.
  if (kickHandlerInstalled) return;
  kickHandlerInstalled = true;
  process.on('SIGUSR2', () => {});
}

interface VcpuHandle {
  tid?: number;
  immediateExit?: Uint8Array;
  stats?: RunLoopStats;
  failure?: string;
  done: Promise<void>;
}

export class Vm {
  private readonly control: VmControl;
  private readonly vcpus: VcpuHandle[] = [];
  private readonly com1 = Serial8250.create();
  private readonly com2 = Serial8250.create();
  private readonly consoleText: Record<ConsolePort, string> = { com1: '', com2: '', hvc0: '' };
  private readonly decoders = { com1: new TextDecoder(), com2: new TextDecoder(), hvc0: new TextDecoder() };
  private disposed = false;
  private timedOut = false;
  private readonly latch = WatchpointLatch.create();
  private readonly slots: Map<string, number>;
  private readonly snapshotLog: SnapshotRecord[] = [];
  private readonly snapshotSeq: bigint[];
  private freezeChain: Promise<unknown> = Promise.resolve();
  private readonly mechanism: WatchMechanism;
  private readonly vcpuTotal: number;
  private latchEdgeCount = 0;
  private fdsClosed = false;
  private stopped?: Promise<void>;

  private constructor(
    private readonly config: VmConfig,
    private readonly kvm: Kvm,
    private readonly vm: VmFd,
    readonly memory: GuestMemory,
    private readonly fds: VmEventFds,
    private readonly topology: Topology,
    private readonly plan: MachinePlan,
    private readonly serialIrqFds?: { com1: number; com2: number },
    private readonly virtio?: VirtioHost,
  ) {
    this.vcpuTotal = vcpuCount(topology);
    this.control = VmControl.create(this.vcpuTotal);
    this.snapshotSeq = new Array<bigint>(this.vcpuTotal).fill(0n);
    this.mechanism = config.watchMechanism ?? 'debugregs';
    this.specs = [...(config.watchpoints ?? [])];
    this.slots = assignSlots(this.specs);
    this.armed = armedSlots(this.specs, this.slots);
    if (this.specs.length > 0) this.latch.publish(this.armed);
  }

  private readonly specs: WatchpointSpec[];
  private readonly armed: (ArmedSlot | undefined)[];
  private memslots: Memslot[] = [];

  /**
   * Arms a write watchpoint while the VM runs, for an address known only now (a kernel
   * variable found through kallsyms and the guest's page tables). The debug registers watch
   * `gva`; a write trap watches `gpa`, where slot 0 also reads the exit kind.
   */
  async armWatchpoint(w: Omit<WatchpointSpec, 'address' | 'on'> & { gva: bigint; gpa: bigint }): Promise<void> {
    const spec: WatchpointSpec = { name: w.name, address: w.gpa, len: w.len, on: 'write', kind: w.kind, freeze: w.freeze };
    // Armed again (a new scheduler attached): the same slot, so its result stays one entry.
    const known = this.slots.get(w.name);
    const slot = known ?? assignSlots([...this.specs, spec]).get(w.name)!; // the same rules as at create
    const writetrap = this.mechanism === 'writetrap';
    if (writetrap && this.kvm.checkExtension(KVM_CAP_READONLY_MEM) <= 0) throw new Error('this KVM has no read-only memslots (KVM_CAP_READONLY_MEM): writetrap watchpoints are unavailable');
    if (known === undefined) {
      this.specs.push(spec);
      this.slots.set(w.name, slot);
    } else {
      this.specs[this.specs.findIndex((x) => x.name === w.name)] = spec;
    }
    this.armed[slot] = { address: writetrap ? w.gpa : w.gva, len: w.len, on: 'write', valueGpa: w.gpa, freeze: w.freeze };
    // Published first: a trapped store must find its slot the moment the page turns read-only.
    this.latch.publish(this.armed);
    await this.applyArmedSet(w.name);
  }

  /**
   * Stops watching `name` (armed at run time): its slot goes idle and, under writetrap, its page
   * writable again. Its result (a hit it latched) stays; arming the name again reuses the slot.
   */
  async disarmWatchpoint(name: string): Promise<void> {
    const slot = this.slots.get(name);
    if (slot === undefined || !this.armed[slot]) return;
    this.armed[slot] = undefined;
    this.latch.publish(this.armed);
    await this.applyArmedSet(name);
  }

  /**
   * Makes the published armed set take effect on every vCPU now, with all of them parked
   * meanwhile: debug registers are loaded by each vCPU before its next KVM_RUN, and a vCPU
   * that never leaves the guest on its own (spinning, or halted inside KVM) would keep its old
   * ones; under writetrap, exactly the armed pages become read-only memslots.
   */
  private async applyArmedSet(name: string): Promise<void> {
    await this.freeze('arm', false);
    try {
      // A vCPU parked late still loads the debug registers before it runs again; memslots,
      // though, must not change under a vCPU inside KVM_RUN (RAM would vanish between the
      // delete and the re-add).
      if (this.mechanism !== 'writetrap') return;
      if (!this.vcpus.every((_, i) => this.control.state(i) === VcpuState.Done || this.control.parked(i))) {
        throw new Error(`watchpoint '${name}': not every vCPU parked within ${PARK_TIMEOUT_MS} ms; the memslots stay as they were`);
      }
      this.setMemslots(planMemslots(this.memory.regions, this.armed.flatMap((a) => (a ? pagesOf(a.address, a.len) : []))));
    } finally {
      this.thaw();
    }
  }

  /** Replaces every memslot (vCPUs must be out of KVM_RUN: frozen, or not started). */
  private setMemslots(next: Memslot[]): void {
    this.memslots.forEach((m, slot) => this.vm.setUserMemoryRegion({ slot, guestPhysAddr: BigInt(m.gpa), size: 0, hostAddr: m.hostAddr, readonly: m.readonly }));
    next.forEach((m, slot) => this.vm.setUserMemoryRegion({ slot, guestPhysAddr: BigInt(m.gpa), size: m.size, hostAddr: m.hostAddr, readonly: m.readonly }));
    this.memslots = next;
  }

  /** The guest is stopping or stopped (an exit action was decided, or the VM was freed). */
  get ended(): boolean {
    return this.disposed || this.control.killed || this.vcpus.every((_, i) => this.control.state(i) === VcpuState.Done);
  }

  /** Every vCPU's page-table root (CR3) right now: a brief freeze, not kept as snapshots. */
  async pageTableRoots(): Promise<bigint[]> {
    const snaps = await this.freeze('peek', false);
    this.thaw();
    return snaps.map((s) => BigInt(s.page_table_root));
  }

  /** Builds the VM and starts its vCPU threads (parked until run()). */
  static async create(config: VmConfig): Promise<Vm> {
    const topology = resolveTopology(config);
    validateConfig(config, topology);
    installKickHandler();
    const kvm = Kvm.open();
    let vm: VmFd | undefined;
    let memory: GuestMemory | undefined;
    const fds: number[] = [];
    let virtio: VirtioHost | undefined;
    try {
      assignSlots(config.watchpoints ?? []); // reject bad watchpoints before any work
      if (config.watchMechanism === 'writetrap') {
        const rw = config.watchpoints?.find((w) => w.on !== 'write');
        if (rw) throw new RangeError(`watchpoint '${rw.name}': on: ${rw.on} needs the debug registers; the writetrap mechanism sees writes only`);
        if (kvm.checkExtension(KVM_CAP_READONLY_MEM) <= 0) throw new Error('this KVM has no read-only memslots (KVM_CAP_READONLY_MEM): writetrap watchpoints are unavailable');
      }
      const maxVcpus = kvm.checkExtension(KVM_CAP_MAX_VCPUS);
      const vcpus = vcpuCount(topology);
      if (vcpus > maxVcpus) throw new Error(`vcpus: ${vcpus} is more than this KVM allows (${maxVcpus})`);
      vm = kvm.createVm();
      vm.setTssAddr(0xfffb_d000);
      const ram = ramFor(config.guest, config.memoryMb, topology);
      memory = GuestMemory.allocate(ram);
      const traps = config.watchMechanism === 'writetrap'
        ? (config.watchpoints ?? []).flatMap((w) => pagesOf(w.address, w.len))
        : [];
      const memslots = planMemslots(memory.regions, traps);
      memslots.forEach((m, slot) => {
        vm!.setUserMemoryRegion({ slot, guestPhysAddr: BigInt(m.gpa), size: m.size, hostAddr: m.hostAddr, readonly: m.readonly });
      });
      writeLongModeTables(memory);
      const windows = planVirtioWindows(config.devices ?? {});
      const plan = loadPayload(config.guest, memory, ram, topology, windows);
      const newEventFd = () => {
        const fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fd < 0) throw new Error('eventfd failed');
        fds.push(fd);
        return fd;
      };
      const [kill, parked, thaw, latch] = [newEventFd(), newEventFd(), newEventFd(), newEventFd()];
      let serialIrqFds: { com1: number; com2: number } | undefined;
      if (plan.irqchip) {
        createChipset(vm);
        serialIrqFds = { com1: newEventFd(), com2: newEventFd() };
        vm.irqfd(serialIrqFds.com1, COM1_GSI);
        vm.irqfd(serialIrqFds.com2, COM2_GSI);
        if (windows.length > 0) virtio = VirtioHost.create(config.devices!, windows, vm, memory);
      }
      const self = new Vm(config, kvm, vm, memory, { kill, parked, thaw, latch }, topology, plan, serialIrqFds, virtio);
      self.memslots = memslots;
      await self.spawnVcpus();
      return self;
    } catch (e) {
      virtio?.stop();
      for (const fd of fds) close(fd);
      memory?.release();
      vm?.close();
      kvm.close();
      throw e;
    }
  }

  private async spawnVcpus(): Promise<void> {
    const supported = this.kvm.supportedCpuid();
    const mmapSize = this.kvm.vcpuMmapSize();
    const hasImmediateExit = this.kvm.checkExtension(KVM_CAP_IMMEDIATE_EXIT) > 0;
    const tscDeadline = this.kvm.checkExtension(KVM_CAP_TSC_DEADLINE_TIMER) > 0;
    const mask = freezeMask(this.config.watchpoints ?? [], this.slots);
    const ready: Promise<void>[] = [];
    for (let index = 0; index < this.vcpuTotal; index++) {
      const init: VcpuWorkerInit = {
        index,
        apicId: cpuPlacement(this.topology, index).apicId,
        vmFd: this.vm.fd,
        mmapSize,
        cpuid: cpuidForVcpu(supported, this.topology, index, { tscDeadline }),
        start: this.plan.starts[index]!,
        linuxCpuState: this.plan.linuxCpuState,
        ...(this.serialIrqFds ? { serialIrqFds: this.serialIrqFds } : {}),
        ram: this.memory.regions,
        control: this.control.sab,
        com1: this.com1.shared,
        com2: this.com2.shared,
        serialPorts: this.config.devices?.serial ?? ['com1', 'com2'],
        ...(this.virtio ? { virtio: this.virtio.wiring } : {}),
        killEventFd: this.fds.kill,
        parkedEventFd: this.fds.parked,
        thawEventFd: this.fds.thaw,
        latchEventFd: this.fds.latch,
        latch: this.latch.sab,
        freezeMask: mask,
        hasImmediateExit,
        watchMechanism: this.mechanism,
      };
      const run = runVcpu(init);
      let markReady!: () => void;
      let markFailed!: (e: Error) => void;
      ready.push(new Promise<void>((res, rej) => ((markReady = res), (markFailed = rej))));
      let markDone!: () => void;
      const handle: VcpuHandle = { done: new Promise<void>((resolve) => (markDone = resolve)) };
      let finished = false;
      const finish = () => {
        finished = true;
        run.port.close();
        markDone();
      };
      run.port.on('message', (m: VcpuWorkerMessage) => {
        if (m.type === 'ready') {
          handle.tid = m.tid;
          handle.immediateExit = new Uint8Array(hostView(m.runAddr, m.runSize), kvmRun.immediate_exit, 1);
          markReady();
        } else if (m.type === 'failed') {
          handle.failure = m.message;
          markFailed(new Error(`vCPU ${index}: ${m.message}`));
        } else if (m.type === 'freeze-request') {
          this.onWatchpointFreeze(m.slot);
        } else {
          if (m.stats) handle.stats = m.stats;
          this.kickAll(); // one vCPU leaving ends the VM
          finish();
        }
      });
      // The thread died before its task's 'done' (a pool torn down after 'done' is no failure:
      // by then this VM's fds may be closed, and their numbers reused).
      run.finished.catch((e: Error) => {
        if (finished) return;
        handle.failure ??= e.message;
        markFailed(new Error(`vCPU ${index} thread: ${e.message}`));
        this.control.kill();
        this.kickAll();
        finish();
      });
      this.vcpus.push(handle);
    }
    try {
      await Promise.all(ready);
    } catch (e) {
      await this.dispose();
      throw e;
    }
  }

  /** Kills the VM: every vCPU thread is interrupted and sees the kill flag. */
  private kickAll(): void {
    this.control.kill();
    if (!this.fdsClosed) eventfdSignal(this.fds.kill); // wakes parked vCPUs
    this.kick();
  }

  /** Interrupts every vCPU thread's KVM_RUN (immediate_exit + SIGUSR2) so it re-checks its flags. */
  private kick(): void {
    this.vcpus.forEach((h, i) => {
      if (h.tid === undefined || !h.immediateExit) return;
      if (!this.control.beginKick(i)) return;
      h.immediateExit[0] = 1;
      tgkill(process.pid, h.tid, SIGUSR2);
      this.control.endKick(i);
    });
  }

  private pumpConsole(final = false): void {
    for (const port of ['com1', 'com2', 'hvc0'] as const) {
      const bytes = port === 'hvc0' ? (this.virtio?.drainConsole() ?? new Uint8Array(0)) : (port === 'com1' ? this.com1 : this.com2).output.drain();
      const text = this.decoders[port].decode(bytes, { stream: !final });
      if (text) {
        this.consoleText[port] += text;
        this.config.onConsole?.(port, text);
      }
    }
  }

  /** Console output so far. */
  get console(): Record<ConsolePort, string> {
    this.pumpConsole();
    return { ...this.consoleText };
  }

  /**
   * Parks every vCPU and records its registers (trigger names why). Resolves with one snapshot
   * per vCPU that parked; the VM stays frozen until thaw() or its end.
   */
  freeze(trigger = 'api', keep = true): Promise<SnapshotRecord[]> {
    const run = async (): Promise<SnapshotRecord[]> => {
      if (this.disposed || this.control.killed) return [];
      eventfdDrain(this.fds.thaw); // a stale thaw edge would spin the parked vCPUs
      eventfdDrain(this.fds.parked);
      this.control.requestFreeze();
      this.kick();
      const deadline = performance.now() + PARK_TIMEOUT_MS;
      const pending = () => this.vcpus.some((_, i) => this.control.state(i) !== VcpuState.Done && !this.control.parked(i));
      while (pending() && !this.control.killed && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, PARK_POLL_MS));
        if (pending()) this.kick(); // a kick can land just before KVM_RUN: repeat it
      }
      return this.collectSnapshots(trigger, keep);
    };
    const result = this.freezeChain.then(run, run);
    this.freezeChain = result.catch(() => undefined);
    return result;
  }

  /** Lets frozen vCPUs resume where they were. */
  thaw(): void {
    this.control.clearFreeze();
    if (!this.fdsClosed) eventfdSignal(this.fds.thaw); // closed fds may carry other files' numbers now
  }

  private onWatchpointFreeze(slot: number): void {
    const name = [...this.slots].find(([, s]) => s === slot)?.[0] ?? `slot${slot}`;
    void this.freeze(`watchpoint:${name}`).then(() => this.thaw());
  }

  /** Snapshots stored since the last collection, tagged with `trigger`. */
  private collectSnapshots(trigger: string, keep = true): SnapshotRecord[] {
    const out: SnapshotRecord[] = [];
    for (let vcpu = 0; vcpu < this.vcpuTotal; vcpu++) {
      const s = this.control.snapshot(vcpu);
      if (s.seq === this.snapshotSeq[vcpu]) continue;
      this.snapshotSeq[vcpu] = s.seq;
      const regs: VcpuRegSnapshot = { instruction_pointer: s.rip, stack_pointer: s.rsp, page_table_root: s.cr3 };
      out.push({ vcpu, trigger, ...snapshotToHex(regs), text: formatSnapshot(regs) });
    }
    if (keep) this.snapshotLog.push(...out);
    return out;
  }

  /** Snapshots recorded so far (the result carries them all once the VM ended). */
  get snapshots(): SnapshotRecord[] {
    return [...this.snapshotLog];
  }

  /** Watch-slot latch edges seen so far (one per slot that latched). */
  latchEdges(): number {
    if (!this.fdsClosed) this.latchEdgeCount += Number(eventfdDrain(this.fds.latch));
    return this.latchEdgeCount;
  }

  private watchpointResults(): Record<string, WatchpointResult> {
    const out: Record<string, WatchpointResult> = {};
    for (const [name, slot] of this.slots) {
      const hit = this.latch.hit(slot);
      out[name] = hit ? { slot, hit: true, vcpu: hit.vcpu, value: hit.value } : { slot, hit: false };
    }
    return out;
  }

  /** Runs the guest to Shutdown, Fatal or the timeout, then releases everything. */
  async run(): Promise<VmResult> {
    if (this.disposed) throw new Error('this VM has already run');
    const t0 = performance.now();
    const pump = setInterval(() => this.pumpConsole(), CONSOLE_POLL_MS);
    // On timeout, snapshot first (where was every vCPU stuck?), then kill.
    const timer = this.config.timeoutMs !== undefined
      ? setTimeout(() => {
        this.timedOut = true;
        void this.freeze('timeout').finally(() => this.kickAll());
      }, this.config.timeoutMs)
      : undefined;
    // Re-kick until every thread is out: closes the window where a kick lands just before KVM_RUN.
    let kicker: NodeJS.Timeout | undefined;
    const allDone = Promise.all(this.vcpus.map((h) => h.done));
    const killWatch = setInterval(() => {
      if (this.control.killed && !kicker) kicker = setInterval(() => this.kickAll(), KICK_INTERVAL_MS);
    }, KICK_INTERVAL_MS);
    try {
      this.control.start();
      await allDone;
    } finally {
      clearInterval(pump);
      clearInterval(killWatch);
      if (kicker) clearInterval(kicker);
      if (timer) clearTimeout(timer);
    }
    const wallMs = performance.now() - t0;
    this.pumpConsole(true);
    await this.freezeChain;
    this.collectSnapshots('fatal'); // vCPUs snapshot themselves on the way out of a Fatal exit
    const result = this.result(wallMs);
    if (this.config.keepMemory) await this.shutdown();
    else await this.dispose();
    return result;
  }

  private result(wallMs: number): VmResult {
    const action = this.control.action;
    const vcpus = this.vcpus.map((h, index): VcpuResult => ({
      index,
      exits: this.control.exits(index),
      runErrors: h.stats?.runErrors ?? 0,
      ...(h.stats?.lastRunError !== undefined ? { lastRunError: errnoName(h.stats.lastRunError) } : {}),
    }));
    const faults = this.virtio?.faults() ?? [];
    const base = {
      console: { ...this.consoleText }, vcpus, watchpoints: this.watchpointResults(), watchMechanism: this.mechanism,
      snapshots: [...this.snapshotLog], ...(faults.length > 0 ? { deviceFaults: faults } : {}), wallMs,
    };
    if (action.code === ActionCode.Shutdown) return { exitAction: 'Shutdown', ...base };
    if (action.code === ActionCode.Fatal) {
      const fatalReason = action.fatalKind === FATAL_FAIL_ENTRY
        ? `vCPU ${action.vcpu}: KVM_EXIT_FAIL_ENTRY, hardware entry failure reason 0x${action.detail.toString(16)}`
        : `vCPU ${action.vcpu}: KVM_EXIT_INTERNAL_ERROR`;
      return { exitAction: 'Fatal', fatalReason, ...base };
    }
    const failure = this.vcpus.find((h) => h.failure)?.failure;
    if (failure) return { exitAction: 'Fatal', fatalReason: failure, ...base };
    if (this.timedOut) return { exitAction: 'Timeout', ...base };
    return { exitAction: 'Fatal', fatalReason: 'the VM stopped without an exit action', ...base };
  }

  /** Stops the guest (if running) and frees threads, fds and guest memory. Idempotent. */
  async dispose(): Promise<void> {
    await this.shutdown();
    this.memory.release();
  }

  /** Stops the vCPUs and closes every fd; guest RAM stays mapped. Idempotent. */
  private shutdown(): Promise<void> {
    this.stopped ??= this.stopVcpus();
    return this.stopped;
  }

  private async stopVcpus(): Promise<void> {
    this.disposed = true;
    this.control.kill();
    const kicker = setInterval(() => this.kickAll(), KICK_INTERVAL_MS);
    this.kickAll();
    await Promise.all(this.vcpus.map((h) => h.done));
    clearInterval(kicker);
    this.virtio?.stop();
    this.latchEdges(); // keep the count readable after the fds are gone
    for (const fd of Object.values(this.fds)) close(fd);
    this.fdsClosed = true;
    this.vm.close();
    this.kvm.close();
  }

  /** Stops the run early (exitAction "Timeout" unless the guest already chose one). */
  stop(): void {
    this.timedOut = true;
    this.kickAll();
  }
}

interface VmEventFds {
  kill: number;
  parked: number;
  thaw: number;
  latch: number;
}

function resolveTopology(c: VmConfig): Topology {
  if (!c.topology) {
    if (!Number.isInteger(c.vcpus) || c.vcpus! < 1) throw new RangeError(`vcpus must be a positive integer, got ${c.vcpus}`);
    return flatTopology(c.vcpus!);
  }
  const problems = validateTopology(c.topology);
  if (problems.length > 0) throw new RangeError(problems.map((p) => `topology${p.path ? `.${p.path}` : ''}: ${p.message}`).join('; '));
  const n = vcpuCount(c.topology);
  if (c.vcpus !== undefined && c.vcpus !== n) {
    throw new RangeError(`vcpus is ${c.vcpus} but topology ${formatTopology(c.topology)} has ${n} vCPUs`);
  }
  return c.topology;
}

function validateConfig(c: VmConfig, t: Topology): void {
  const vcpus = vcpuCount(t);
  if (c.guest.kind === 'bare') {
    const minMb = Math.ceil((bareStackTop(vcpus) + 1) / (1 << 20));
    if (!Number.isInteger(c.memoryMb) || c.memoryMb < minMb) {
      throw new RangeError(`memory_mb must be an integer >= ${minMb} for ${vcpus} vCPUs, got ${c.memoryMb}`);
    }
    if (c.memoryMb > 3072) throw new RangeError(`memory_mb above 3072 needs the Linux memory layout (not available to bare guests)`);
    if (BARE_LOAD_ADDR + c.guest.image.length > bareStackTop(-1)) {
      throw new RangeError(`guest image of ${c.guest.image.length} bytes overlaps the vCPU stacks`);
    }
    const virtio = planVirtioWindows(c.devices ?? {});
    if (virtio.length > 0) throw new RangeError(`virtio devices (${virtio.map((w) => w.kind).join(', ')}) need a Linux guest: bare-metal guests have no ACPI to find them`);
  } else if (!Number.isInteger(c.memoryMb) || c.memoryMb < 64) {
    throw new RangeError(`memory_mb must be an integer >= 64 for a Linux guest, got ${c.memoryMb}`);
  }
}
export { KvmError };

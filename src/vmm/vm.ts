// A VM, Firecracker's runtime half: built by the architecture's builder, its vCPU threads run by
// the vCPU manager, its watchpoints by the watchpoint controller, its consoles by the console
// mux. Vm keeps the lifecycle (create, run, stop, dispose) and the result.
import { buildMachine, type Machine } from './arch-machine.ts';
import { checkWatchpoints, resolveTopology, serialPortsOf, type ConsolePort, type VmConfig } from './config.ts';
import { ConsoleMux } from './console-mux.ts';
import { notifiesOffVcpu } from './devices/virtio/wiring.ts';
import { DeviceThread } from './device-thread.ts';
import { VmmStateError } from './errors.ts';
import type { GuestMemory } from './memory.ts';
import { fatalReason, type SnapshotRecord, type VmResult } from './result.ts';
import { vcpuCount } from './topology.ts';
import { ActionCode, VmControl } from './vcpu/control.ts';
import { VcpuManager } from './vcpu/manager.ts';
import { WatchpointController } from './watchpoint-controller.ts';
import type { RuntimeWatchpoint } from './watchpoints.ts';
import { threadRunState } from './sys/thread-cpu.ts';

export type { ConsolePort, SerialPort, VmConfig, VmDevices, WatchMechanism } from './config.ts';
export type { ExitActionName, SnapshotRecord, VcpuResult, VmResult } from './result.ts';
export type { BareGuest, LinuxGuest } from './arch.ts';
export { KvmError } from './kvm.ts';

const CONSOLE_POLL_MS = 20;

export class Vm {
  private disposed = false;
  private timedOut = false;
  private stopped?: Promise<void>;
  private vcpus!: VcpuManager;
  /** Works the virtio queues when their notifies go to ioeventfds. */
  private devices?: DeviceThread;

  private constructor(
    private readonly config: VmConfig,
    private readonly machine: Machine,
    private readonly control: VmControl,
    private readonly consoles: ConsoleMux,
    private readonly watch: WatchpointController,
  ) {}

  /** Guest RAM (readable after run() with keepMemory, until dispose()). */
  get memory(): GuestMemory {
    return this.machine.memory;
  }

  /** Builds the VM and starts its vCPU threads (parked until run()). */
  static async create(config: VmConfig): Promise<Vm> {
    const topology = resolveTopology(config);
    checkWatchpoints(config);
    const machine = buildMachine(config, topology);
    let self: Vm;
    try {
      const control = VmControl.create(vcpuCount(topology));
      const consoles = new ConsoleMux(machine.virtio ? () => machine.virtio!.drainConsole() : undefined, config.onConsole);
      const watch = new WatchpointController(config.watchpoints ?? [], config.watchMechanism ?? 'debugregs', machine.memory, machine.memslots, machine.fds);
      self = new Vm(config, machine, control, consoles, watch);
    } catch (e) {
      machine.close();
      machine.memory.release();
      throw e;
    }
    await self.spawnVcpus(vcpuCount(topology));
    return self;
  }

  private async spawnVcpus(count: number): Promise<void> {
    const { machine, control, watch, consoles } = this;
    const freezeMask = watch.freezeMask;
    try {
      this.vcpus = await VcpuManager.spawn({
        control,
        fds: machine.fds,
        count,
        initFor: (index) => ({
          ...machine.vcpuInit(index),
          index,
          vmFd: machine.vm.fd,
          ram: machine.memory.regions,
          control: control.sab,
          com1: consoles.com1.shared,
          com2: consoles.com2.shared,
          serialPorts: serialPortsOf(this.config),
          ...(machine.virtio ? { virtio: machine.virtio.wiring } : {}),
          killEventFd: machine.fds.kill,
          parkedEventFd: machine.fds.parked,
          thawEventFd: machine.fds.thaw,
          latchEventFd: machine.fds.latch,
          latch: watch.latch.sab,
          freezeMask,
          watchMechanism: watch.mechanism,
        }),
        onFreezeRequest: (slot) => void this.freeze(`watchpoint:${watch.nameOf(slot)}`).then(() => this.thaw()),
      });
    } catch (e) {
      this.disposed = true;
      machine.close();
      machine.memory.release();
      throw e;
    }
    watch.vcpus = this.vcpus;
    const wiring = machine.virtio?.wiring;
    if (wiring && notifiesOffVcpu(wiring)) {
      const devices = DeviceThread.start({ virtio: wiring, ram: machine.memory.regions, stopFd: machine.fds.kill });
      this.devices = devices;
      // Without it the guest's disk, console and net requests would never complete.
      void devices.done.then(() => {
        if (devices.failure) this.vcpus.kill();
      });
    }
  }

  /** Arms a write watchpoint while the VM runs (WatchpointController.arm). */
  armWatchpoint(w: RuntimeWatchpoint): Promise<void> {
    return this.watch.arm(w);
  }

  /** Stops watching `name` (WatchpointController.disarm). */
  disarmWatchpoint(name: string): Promise<void> {
    return this.watch.disarm(name);
  }

  /** The guest is stopping or stopped (an exit action was decided, or the VM was freed). */
  get ended(): boolean {
    return this.disposed || this.control.killed || this.vcpus.allDone;
  }

  /** vCPU `index`'s thread right now: runnable (in the guest, or waiting for a host CPU) or blocked (halted). */
  vcpuRunState(index: number): 'runnable' | 'blocked' | undefined {
    const tid = this.vcpus.threadId(index);
    return tid === undefined ? undefined : threadRunState(tid);
  }

  /** Every vCPU's page-table root (CR3) right now: a brief freeze, not kept as snapshots. */
  async pageTableRoots(): Promise<bigint[]> {
    const snaps = await this.freeze('peek', false);
    this.thaw();
    return snaps.map((s) => BigInt(s.page_table_root));
  }

  /** Console output so far. */
  get console(): Record<ConsolePort, string> {
    this.consoles.pump();
    return this.consoles.snapshot();
  }

  /**
   * Parks every vCPU and records its registers (trigger names why). Resolves with one snapshot
   * per vCPU that parked; the VM stays frozen until thaw() or its end.
   */
  freeze(trigger = 'api', keep = true): Promise<SnapshotRecord[]> {
    if (this.disposed) return Promise.resolve([]);
    return this.vcpus.freeze(trigger, keep);
  }

  /** Lets frozen vCPUs resume where they were. */
  thaw(): void {
    this.vcpus.thaw();
  }

  /** Snapshots recorded so far (the result carries them all once the VM ended). */
  get snapshots(): SnapshotRecord[] {
    return this.vcpus.snapshots;
  }

  /** Watch-slot latch edges seen so far (one per slot that latched). */
  latchEdges(): number {
    return this.watch.latchEdges();
  }

  /** Runs the guest to Shutdown, Fatal or the timeout, then releases everything. */
  async run(): Promise<VmResult> {
    if (this.disposed) throw new VmmStateError('this VM has already run');
    const t0 = performance.now();
    const pump = setInterval(() => this.consoles.pump(), CONSOLE_POLL_MS);
    // On timeout, snapshot first (where was every vCPU stuck?), then kill.
    const timer =
      this.config.timeoutMs !== undefined
        ? setTimeout(() => {
            this.timedOut = true;
            void this.freeze('timeout').finally(() => this.vcpus.kill());
          }, this.config.timeoutMs)
        : undefined;
    try {
      this.vcpus.start();
      await this.vcpus.whenDone();
      await this.devices?.done; // the vCPUs' end signalled the kill eventfd it waits on
    } finally {
      clearInterval(pump);
      if (timer) clearTimeout(timer);
    }
    const wallMs = performance.now() - t0;
    this.consoles.pump(true);
    this.vcpus.collectSnapshots('fatal'); // vCPUs snapshot themselves on the way out of a Fatal exit
    const result = this.result(wallMs);
    if (this.config.keepMemory) await this.shutdown();
    else await this.dispose();
    return result;
  }

  private result(wallMs: number): VmResult {
    const action = this.control.action;
    const faults = this.machine.virtio?.faults() ?? [];
    const deviceThread = this.devices?.result;
    const base = {
      console: this.consoles.snapshot(),
      vcpus: this.vcpus.results(),
      watchpoints: this.watch.results(),
      watchMechanism: this.watch.mechanism,
      snapshots: this.vcpus.snapshots,
      ...(faults.length > 0 ? { deviceFaults: faults } : {}),
      ...(deviceThread ? { deviceThread } : {}),
      wallMs,
    };
    if (action.code === ActionCode.Shutdown) return { exitAction: 'Shutdown', ...base };
    if (action.code === ActionCode.Fatal) return { exitAction: 'Fatal', fatalReason: fatalReason(action.vcpu, action.fatalKind, action.detail), ...base };
    const failure = this.vcpus.failure ?? (this.devices?.failure && `device thread: ${this.devices.failure}`);
    if (failure) return { exitAction: 'Fatal', fatalReason: failure, ...base };
    if (this.timedOut) return { exitAction: 'Timeout', ...base };
    return { exitAction: 'Fatal', fatalReason: 'the VM stopped without an exit action', ...base };
  }

  /** Stops the guest (if running) and frees threads, fds and guest memory. Idempotent. */
  async dispose(): Promise<void> {
    await this.shutdown();
    this.machine.memory.release();
  }

  /** Stops the vCPUs and closes every fd; guest RAM stays mapped. Idempotent. */
  private shutdown(): Promise<void> {
    this.stopped ??= (async () => {
      this.disposed = true;
      await this.vcpus.stop();
      await this.devices?.done; // before its eventfds and disks close
      this.watch.latchEdges(); // keep the count readable after the fds are gone
      this.machine.close();
    })();
    return this.stopped;
  }

  /** Stops the run early (exitAction "Timeout" unless the guest already chose one). */
  stop(): void {
    this.timedOut = true;
    this.vcpus.kill();
  }
}

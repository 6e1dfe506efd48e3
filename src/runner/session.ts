// One scenario booted for tests: the VM created (vCPUs parked) with its scenario, symbols and
// boot clock, started on demand, and closed by its owner whatever state it is in.
import { buildGuestWithSymbols } from '../fixtures/guests/build.ts';
import { warmVcpuPool } from '../vmm/vcpu/pool.ts';
import { poolThreadsFor } from './devices.ts';
import { Vm, type ConsolePort, type SnapshotRecord } from '../vmm/vm.ts';
import { BootClock, prepareScenario, scenarioResult, type PreparedScenario, type ScenarioResult } from './prepare.ts';
import type { Scenario } from './scenario/schema.ts';
import { resolveGuestAddress, type BareSymbols, type GuestAddress } from './guest-address.ts';
import type { SchedVm, VmState } from './types.ts';

const CONSOLE_POLL_MS = 20;

export interface BootOptions {
  /** Console output as it arrives (the live console). */
  onConsole?: (port: ConsolePort, text: string) => void;
}

/** Prepares the scenario's payload and creates its VM; vCPU threads warm up meanwhile. */
export async function bootScenario(scenario: Scenario, file: string, opts: BootOptions = {}): Promise<ScenarioVm> {
  const [prepared, symbols] = await Promise.all([
    prepareScenario(scenario),
    scenario.guest !== undefined ? buildGuestWithSymbols(scenario.guest).then((b) => b.symbols) : {},
    warmVcpuPool(poolThreadsFor(scenario)),
  ]);
  // What the chosen kernel lacks (sched_ext, BTF, NUMA) would otherwise only sit in the result.
  for (const w of prepared.warnings) process.stderr.write(`schedvm: warning [${scenario.name}]: ${w}\n`);
  const clock = new BootClock(prepared, scenario.name);
  const vm = await Vm.create({
    ...prepared.config,
    keepMemory: true,
    onConsole: (port, text) => {
      clock.watch(port, text);
      opts.onConsole?.(port, text);
    },
  });
  return new ScenarioVm(scenario, file, vm, prepared, clock, symbols);
}

export class ScenarioVm implements SchedVm {
  private running?: Promise<ScenarioResult>;
  private ended?: ScenarioResult;
  private closed?: Promise<void>;

  constructor(
    readonly scenario: Scenario,
    readonly file: string,
    private readonly vm: Vm,
    private readonly prepared: PreparedScenario,
    private readonly clock: BootClock,
    readonly symbols: BareSymbols,
  ) {}

  get state(): VmState {
    return this.ended ? 'ended' : this.running ? 'running' : 'created';
  }
  get result(): ScenarioResult | undefined {
    return this.ended;
  }
  get warnings(): string[] {
    return this.prepared.warnings;
  }

  start(): this {
    if (this.closed) throw new Error('this VM was closed: its test file is done');
    if (!this.running) {
      this.clock.start(this.vm);
      this.running = this.vm
        .run()
        .finally(() => this.clock.end())
        .then(async (r) => {
          await this.clock.kernelWatch?.settled();
          this.ended = scenarioResult(this.scenario, this.prepared, r, this.clock);
          return this.ended;
        });
    }
    return this;
  }

  run(): Promise<ScenarioResult> {
    return this.start().running!;
  }

  private live(what: string): void {
    if (this.state !== 'running') throw new Error(`${what} needs a running VM (it is ${this.state}): call vm.start() first`);
  }

  async freeze(trigger = 'api'): Promise<SnapshotRecord[]> {
    this.live('freeze()');
    return await this.vm.freeze(trigger);
  }
  thaw(): void {
    this.vm.thaw();
  }
  async snapshot(trigger = 'snapshot'): Promise<SnapshotRecord[]> {
    try {
      return await this.freeze(trigger);
    } finally {
      this.thaw();
    }
  }
  stop(): void {
    this.vm.stop();
  }
  get snapshots(): readonly SnapshotRecord[] {
    return this.ended?.snapshots ?? this.vm.snapshots;
  }

  read(at: GuestAddress, len: number): Uint8Array {
    const where = resolveGuestAddress(at, this.scenario.guest !== undefined ? this.symbols : undefined);
    if (typeof where === 'number') return this.vm.memory.read(where, len);
    if (!this.clock.kernelWatch) throw new Error(`kernel symbol ${where.kernelSymbol}: this VM has no kernel symbols`);
    return this.clock.kernelWatch.readSymbol(where.kernelSymbol, len);
  }
  readU32(at: GuestAddress): number {
    return new DataView(copy(this.read(at, 4))).getUint32(0, true);
  }
  readU64(at: GuestAddress): bigint {
    return new DataView(copy(this.read(at, 8))).getBigUint64(0, true);
  }

  get console(): Record<ConsolePort, string> {
    return this.ended?.console ?? this.vm.console;
  }

  async waitForConsole(pattern: string | RegExp, opts: { timeoutMs?: number; port?: ConsolePort } = {}): Promise<string> {
    const port = opts.port ?? 'com1';
    const deadline = performance.now() + (opts.timeoutMs ?? this.scenario.timeout_s * 1000);
    const seen = () => {
      const text = this.console[port];
      return (typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text)) ? text : undefined;
    };
    for (;;) {
      const text = seen();
      if (text !== undefined) return text;
      if (this.state === 'ended') throw new Error(`the VM ended (${this.ended!.exitAction}) before ${String(pattern)} appeared on ${port}`);
      if (performance.now() > deadline) throw new Error(`${String(pattern)} did not appear on ${port} within ${opts.timeoutMs ?? this.scenario.timeout_s * 1000} ms`);
      await new Promise((r) => setTimeout(r, CONSOLE_POLL_MS));
    }
  }

  latchEdges(): number {
    return this.vm.latchEdges();
  }

  /** Stops the guest if it runs and frees everything (threads back to the pool, fds, RAM). */
  close(): Promise<void> {
    this.closed ??= (async () => {
      if (this.running) {
        this.vm.stop();
        await this.running.catch(() => undefined);
      }
      await this.vm.dispose();
    })();
    return this.closed;
  }
}

/** An ArrayBuffer of its own: views over guest RAM may start anywhere in a larger buffer. */
function copy(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer;
}

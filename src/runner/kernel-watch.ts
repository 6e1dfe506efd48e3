// Watchpoints on kernel variables, armed while the guest runs: /init prints the kallsyms lines
// of the symbols wanted (their KASLR addresses), the host translates them through the guest's
// page tables and arms. The scheduler's exit kind is one of them: once sched_ext says the
// scheduler is enabled, scx_root points to its scx_sched, whose exit_kind (offset from the
// kernel's BTF) goes into slot 0.
import { SCHED_PREFIX, STEP_PREFIX } from '../fixtures/schedulers/index.ts';
import { SCX_EXIT } from '../fixtures/schedulers/exit-kind.ts';
import { imageReader, KernelSymbols, parseVmcoreinfo, vmcoreinfoNoteText, type KernelReader } from './kallsyms.ts';
import { translate } from '../vmm/arch.ts';
import type { ConsolePort, Vm } from '../vmm/vm.ts';
import { toGuestPhys, type GuestPhysAddr, type GuestVirtAddr } from '../vmm/guest-address.ts';
import { MONITOR_SYMBOLS, type RqLayout } from './monitor/layout.ts';
import { RunqueueSampler } from './monitor/sampler.ts';
import { KERNEL_PGD_SYMBOL, kernelPageTableRoot } from './kernel-pgd.ts';
import type { WatchLen } from '../vmm/watchpoint-arch.ts';
import type { StepTimes } from './steps.ts';

export const SYMBOL_PREFIX = 'schedvm-sym:';
/** The kernel's pointer to the running scheduler (7.x). */
export const SCX_ROOT = 'scx_root';
export const EXIT_KIND_WATCH = 'scx_exit_kind';
/** An exit-kind watch latches from SCX_EXIT_ERROR up: kinds below it (done, unreg, ...) are clean exits. */
export const EXIT_KIND_LATCH_FROM = BigInt(SCX_EXIT.ERROR);
/**
 * The kernel stores DONE when it starts tearing a scheduler down, and its exit kind is not
 * written again: later writes there are to freed memory reused before the host disarms.
 */
const EXIT_KIND_END_AT = BigInt(SCX_EXIT.DONE);
/** Freezes tried to find a page-table root that maps a symbol. */
const PEEK_ATTEMPTS = 3;

export interface SymbolWatch {
  name: string;
  symbol: string;
  offset: number;
  len: WatchLen;
  kind: 'exit_kind' | 'user';
  freeze: boolean;
}

export interface KernelWatchPlan {
  /** Watchpoints on `symbol + offset`, armed as soon as the symbol's address is known. */
  watches: SymbolWatch[];
  /** Byte offset of scx_sched.exit_kind: arm slot 0 on it when the scheduler is enabled. */
  exitKindOffset?: number;
  /** The runqueue monitor: started once the guest has reported its symbols. */
  monitor?: { layout: RqLayout; hz: number; cpus: number };
}

/** Symbols /init has to look up for `plan`. */
export function planSymbols(plan: KernelWatchPlan): string[] {
  const wanted = [...plan.watches.map((w) => w.symbol), ...(plan.exitKindOffset !== undefined ? [SCX_ROOT] : []), ...(plan.monitor ? MONITOR_SYMBOLS : [])];
  // Translating any of them takes the kernel's page-table root.
  return wanted.length ? [...new Set([...wanted, KERNEL_PGD_SYMBOL])] : [];
}

/**
 * /init lines reporting where the VMCOREINFO note is (the host decodes the kernel's symbol
 * table from it, to symbolise snapshots) and the kallsyms entry of each symbol to watch.
 */
export function kallsymsShell(symbols: string[]): string {
  return [
    `echo "${SYMBOL_PREFIX} vmcoreinfo $(cat /sys/kernel/vmcoreinfo 2>/dev/null)"`,
    ...(symbols.length > 0 ? ['echo 0 > /proc/sys/kernel/kptr_restrict 2>/dev/null', `grep -E ' (${symbols.join('|')})$' /proc/kallsyms | sed 's/^/${SYMBOL_PREFIX} /'`] : []),
    `echo "${SYMBOL_PREFIX} done"`,
  ].join('\n');
}

/** Follows the console, arms what the plan asks for, and notes what it could not. */
export class KernelWatch {
  /** Kernel symbols the guest reported. */
  readonly symbols = new Map<string, GuestVirtAddr>();
  /** What happened to each watch: `armed ...` or why not. */
  readonly notes: string[] = [];
  exitKindArmed = false;
  /** How decoding the symbol table went (`N symbols in M ms`, or why it failed). */
  symbolsNote?: string;
  private decoded?: KernelSymbols;
  /** VMCOREINFO, once found: the symbol table is decoded from it on first use. */
  private vmcoreinfo?: Map<string, string>;
  private vm?: Vm;
  private readImage?: KernelReader;
  private partial = '';
  private physBase?: bigint;
  /** The runqueue monitor, once started. */
  monitor?: RunqueueSampler;
  /** Why the monitor did not start, if it did not. */
  monitorNote?: string;
  /**
   * When each lifecycle step's start line and its outcome line (its last ok or fail) arrived, on
   * the monitor's clock (ms): the timeline's marks, and what came before and after a step's effect.
   */
  readonly stepTimes = new Map<number, StepTimes>();
  /** While a scheduler under test was attached, on the monitor's clock (ms; an open one ends with the trace). */
  readonly schedulerWindows: Array<{ fromMs: number; toMs?: number }> = [];
  private schedulerAttached = false;
  private work: Promise<void> = Promise.resolve();
  private symbolsDone = false;

  constructor(private readonly plan: KernelWatchPlan) {}

  attach(vm: Vm): void {
    this.vm = vm;
  }

  /** Pass every console chunk (the guest console: COM1 or hvc0). */
  watch = (port: ConsolePort, text: string): void => {
    if (port === 'com2') return;
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop()!;
    for (const raw of lines) this.line(raw.replace(/\r$/, ''));
  };

  /** Waits for arming still in progress (call before reading notes). */
  settled(): Promise<void> {
    return this.work;
  }

  private line(line: string): void {
    const sym = line.indexOf(SYMBOL_PREFIX);
    if (sym >= 0) {
      const rest = line.slice(sym + SYMBOL_PREFIX.length).trim();
      const m = /^([0-9a-f]+) \w (\S+)$/.exec(rest);
      const note = /^vmcoreinfo (?:0x)?([0-9a-f]+) ([0-9a-f]+)$/.exec(rest); // `%pa %x`: 0x0000000100c66000 1024
      if (m) this.symbols.set(m[2]!, BigInt(`0x${m[1]}`));
      else if (note) this.enqueue(async () => this.locateSymbolTable(toGuestPhys(BigInt(`0x${note[1]}`)), Number(`0x${note[2]}`)));
      else if (rest === 'vmcoreinfo') this.symbolsNote = 'no symbols: the guest kernel has no /sys/kernel/vmcoreinfo';
      else if (rest.startsWith('vmcoreinfo ')) this.symbolsNote = `no symbols: unexpected /sys/kernel/vmcoreinfo: ${rest.slice(11)}`;
      else if (line.endsWith(`${SYMBOL_PREFIX} done`)) this.onSymbolsDone();
      return;
    }
    const step = line.indexOf(STEP_PREFIX);
    if (step >= 0) {
      const m = /^ (\d+) (start|ok|fail)\b/.exec(line.slice(step + STEP_PREFIX.length));
      const at = this.monitor?.elapsedMs();
      if (!m || at === undefined) return;
      const times = this.stepTimes.get(Number(m[1])) ?? {};
      if (m[2] === 'start') times.startMs = at;
      else times.endMs = at;
      this.stepTimes.set(Number(m[1]), times);
      return;
    }
    this.followSchedulerWindows(line);
    if (this.plan.exitKindOffset === undefined) return;
    // Each scheduler that attaches gets the watch on its own scx_sched; once its loader has
    // exited or a step detached it (the exit kind is stored by then), the watch leaves memory
    // the kernel frees, and the next scheduler's `enabled` arms it on that one's. Until then
    // (a kernel-side exit is seen here only later) the DONE rule keeps reuse from latching.
    if (line.includes(`${SCHED_PREFIX} enabled`)) this.enqueue(() => this.armExitKind(this.plan.exitKindOffset!));
    else if (line.includes(`${SCHED_PREFIX} exit-status`) || line.includes(`${SCHED_PREFIX} detached`)) this.enqueue(() => this.disarmExitKind());
  }

  /**
   * Opens a window at each `enabled`, closes it at the loader's exit or a detach. Whether a
   * scheduler is attached is followed before the monitor starts too: one attached by then has
   * its window open from the monitor's first sample.
   */
  private followSchedulerWindows(line: string): void {
    const enabled = line.includes(`${SCHED_PREFIX} enabled`);
    const ended = line.includes(`${SCHED_PREFIX} exit-status`) || line.includes(`${SCHED_PREFIX} detached`);
    if (!enabled && !ended) return;
    this.schedulerAttached = enabled;
    const at = this.monitor?.elapsedMs();
    if (at === undefined) return;
    const open = this.schedulerWindows.at(-1);
    if (enabled) {
      if (!open || open.toMs !== undefined) this.schedulerWindows.push({ fromMs: at });
    } else if (open && open.toMs === undefined) open.toMs = at;
  }

  private onSymbolsDone(): void {
    if (this.symbolsDone) return;
    this.symbolsDone = true;
    for (const w of this.plan.watches) this.enqueue(() => this.armSymbol(w));
    if (this.plan.monitor) this.enqueue(async () => this.startMonitor(this.plan.monitor!));
  }

  private startMonitor(m: NonNullable<KernelWatchPlan['monitor']>): void {
    if (!this.vm || this.vm.ended) return;
    if (this.physBase === undefined) {
      this.monitorNote = `monitor: not started: ${this.symbolsNote ?? 'the guest kernel reported no VMCOREINFO'}`;
      return;
    }
    const sampler = new RunqueueSampler(this.vm, m.layout, m.cpus, m.hz);
    try {
      sampler.start(this.symbols, this.physBase);
      this.useMonitor(sampler);
    } catch (e) {
      this.monitorNote = (e as Error).message;
    }
  }

  /** Takes a started sampler as the monitor: a scheduler attached by then is in a window from its start. */
  useMonitor(sampler: RunqueueSampler): void {
    this.monitor = sampler;
    if (this.schedulerAttached) this.schedulerWindows.push({ fromMs: 0 });
  }

  /** Finds the symbol table through VMCOREINFO; decoding waits for a first use. */
  private locateSymbolTable(pa: GuestPhysAddr, size: number): void {
    const vm = this.vm;
    if (!vm) return;
    try {
      const info = parseVmcoreinfo(vmcoreinfoNoteText(vm.memory.read(pa, size)));
      const physBase = info.get('NUMBER(phys_base)');
      if (physBase === undefined) throw new Error('VMCOREINFO has no NUMBER(phys_base)');
      this.readImage = imageReader((a, n) => vm.memory.read(a, n), BigInt(physBase));
      this.physBase = BigInt(physBase);
      this.vmcoreinfo = info;
    } catch (e) {
      this.symbolsNote = `no symbols: ${(e as Error).message}`;
    }
  }

  /**
   * The guest kernel's symbol table, decoded out of its memory on first use (a snapshot to
   * symbolise, a symbol to read): seconds of host CPU under the sandbox's TCG that a run
   * needing neither does not pay. The tables are read-only, so the guest may run on; guest
   * RAM must still be mapped.
   */
  get kernelSymbols(): KernelSymbols | undefined {
    if (this.decoded || !this.vmcoreinfo || !this.readImage) return this.decoded;
    const t0 = performance.now();
    try {
      this.decoded = KernelSymbols.decode(this.vmcoreinfo, this.readImage);
      this.symbolsNote = `${this.decoded.size} symbols in ${Math.round(performance.now() - t0)} ms`;
    } catch (e) {
      this.symbolsNote = `no symbols: ${(e as Error).message}`;
    }
    this.vmcoreinfo = undefined; // decoded or failed: once
    return this.decoded;
  }

  /** `len` bytes of the guest kernel's image at `symbol` + `offset` (its static data: no page walk needed). */
  readSymbol(symbol: string, len: number, offset = 0): Uint8Array {
    const symbols = this.kernelSymbols;
    if (!symbols || !this.readImage) throw new Error(`kernel symbol ${symbol}: the guest kernel's symbols are not known (${this.symbolsNote ?? 'its /init has not reported them yet'})`);
    const base = symbols.address(symbol);
    if (base === undefined) throw new Error(`the guest kernel has no symbol ${symbol}`);
    return this.readImage(base + BigInt(offset), len);
  }

  private enqueue(fn: () => Promise<void>): void {
    this.work = this.work.then(fn).catch((e: Error) => void this.notes.push(e.message));
  }

  /**
   * Guest-physical address of kernel virtual address `va`: through the kernel's own page tables
   * (no vCPU stopped), or, before those are known, those of whichever parked vCPU maps it (a
   * loaded host can park no vCPU within the freeze's bound: try again).
   */
  private async physical(va: GuestVirtAddr, what: string): Promise<GuestPhysAddr> {
    const vm = this.vm;
    if (!vm) throw new Error(`${what}: no VM attached`);
    const pgd = kernelPageTableRoot(this.symbols, this.physBase);
    if (pgd !== undefined) {
      const t = translate(vm.memory, pgd, va);
      if ('gpa' in t) return t.gpa;
    }
    let last = 'no vCPU parked to read its page-table root';
    for (let attempt = 0; attempt < PEEK_ATTEMPTS; attempt++) {
      for (const cr3 of await vm.pageTableRoots()) {
        const t = translate(vm.memory, cr3, va);
        if ('gpa' in t) return t.gpa;
        last = `${t.error} (cr3 0x${cr3.toString(16)})`;
      }
      if (vm.ended) throw new Error(`${what}: the VM ended before it could be armed`);
    }
    throw new Error(`${what}: ${last}`);
  }

  private async armSymbol(w: SymbolWatch): Promise<void> {
    const base = this.symbols.get(w.symbol);
    if (base === undefined) throw new Error(`watchpoint ${w.name}: the guest kernel has no symbol ${w.symbol} (not in /proc/kallsyms)`);
    const gva = base + BigInt(w.offset);
    const gpa = await this.physical(gva, `watchpoint ${w.name}`);
    await this.vm!.armWatchpoint({ name: w.name, kind: w.kind, len: w.len, freeze: w.freeze, gva, gpa });
    this.notes.push(`watchpoint ${w.name}: armed on ${w.symbol}+0x${w.offset.toString(16)} (va 0x${gva.toString(16)}, pa 0x${gpa.toString(16)})`);
  }

  private async armExitKind(offset: number): Promise<void> {
    if (this.exitKindArmed) return; // this scheduler's: armed already
    const root = this.symbols.get(SCX_ROOT);
    if (root === undefined) throw new Error(`exit-kind watch: this kernel has no ${SCX_ROOT}; the exit kind comes from the guest's report only`);
    const rootPa = await this.physical(root, 'exit-kind watch');
    const sch = this.vm!.memory.readU64(rootPa);
    if (sch === 0n) throw new Error(`exit-kind watch: ${SCX_ROOT} was NULL when the scheduler was enabled; the exit kind comes from the guest's report only`);
    const gva = sch + BigInt(offset);
    const gpa = await this.physical(gva, 'exit-kind watch');
    await this.vm!.armWatchpoint({ name: EXIT_KIND_WATCH, kind: 'exit_kind', len: 4, freeze: true, latchFrom: EXIT_KIND_LATCH_FROM, endAt: EXIT_KIND_END_AT, gva, gpa });
    this.exitKindArmed = true;
    this.notes.push(`exit-kind watch: armed on ${SCX_ROOT}->exit_kind (va 0x${gva.toString(16)}, pa 0x${gpa.toString(16)})`);
  }

  private async disarmExitKind(): Promise<void> {
    if (!this.exitKindArmed || !this.vm) return;
    await this.vm.disarmWatchpoint(EXIT_KIND_WATCH);
    this.exitKindArmed = false;
    this.notes.push('exit-kind watch: disarmed, the scheduler has exited');
  }
}

// The host-side runqueue monitor: while the guest runs, every guest CPU's runqueue is read
// straight out of guest memory at a declared rate: no guest cooperation, no vCPU stopped.
// Addresses come from the kernel's symbols (the per-CPU `runqueues` at each CPU's
// `__per_cpu_offset`) translated through the kernel's own page tables (kernel-pgd.ts), field
// offsets from its BTF.
import { translate } from '../../vmm/arch.ts';
import type { GuestPhysAddr, GuestVirtAddr } from '../../vmm/guest-address.ts';
import type { GuestMemory } from '../../vmm/memory.ts';
import type { CpuSample, MonitorSample } from './checks.ts';
import { COMM_LEN, type RqLayout } from './layout.ts';
import { KERNEL_PGD_SYMBOL, kernelPageTableRoot } from '../kernel-pgd.ts';

/** What the sampler needs of the VM: its memory while it runs, and its vCPU threads' states. */
export interface SampledVm {
  readonly memory: GuestMemory;
  readonly ended: boolean;
  vcpuRunState?(index: number): 'runnable' | 'blocked' | undefined;
}

interface CpuAddresses {
  nrRunning: GuestPhysAddr;
  curr: GuestPhysAddr;
  clock: GuestPhysAddr;
  scxNrRunning: GuestPhysAddr;
  idleTask: GuestVirtAddr;
}

export class RunqueueSampler {
  readonly samples: MonitorSample[] = [];
  private timer?: NodeJS.Timeout;
  private t0 = 0;
  private cpus: CpuAddresses[] = [];
  private cr3 = 0n;
  private onlineMask = 0;
  /** Task page translations, by virtual page. */
  private readonly pages = new Map<GuestVirtAddr, GuestPhysAddr>();
  /** Why sampling stopped early, if it did. */
  failure?: string;
  /** Host time spent reading samples (ms): the monitor's own cost. */
  costMs = 0;

  constructor(
    private readonly vm: SampledVm,
    private readonly layout: RqLayout,
    private readonly cpuCount: number,
    readonly hz: number,
  ) {}

  /** Resolves every CPU's runqueue fields from the guest's symbols, then samples until the VM ends. */
  start(symbols: ReadonlyMap<string, GuestVirtAddr>, physBase: bigint): void {
    const sym = (name: string) => {
      const v = symbols.get(name);
      if (v === undefined) throw new Error(`monitor: the guest kernel did not report ${name}`);
      return v;
    };
    const mem = this.vm.memory;
    sym(KERNEL_PGD_SYMBOL);
    this.cr3 = kernelPageTableRoot(symbols, physBase)!;
    this.onlineMask = this.pa(sym('__cpu_online_mask'));
    const perCpuOffsets = this.pa(sym('__per_cpu_offset'));
    const runqueues = sym('runqueues');
    this.cpus = Array.from({ length: this.cpuCount }, (_, cpu) => {
      const rq = runqueues + mem.readU64(perCpuOffsets + cpu * 8);
      const at = (off: number) => this.pa(rq + BigInt(off));
      return {
        nrRunning: at(this.layout.nrRunning),
        curr: at(this.layout.curr),
        clock: at(this.layout.clock),
        scxNrRunning: at(this.layout.scxNrRunning),
        idleTask: mem.readU64(at(this.layout.idle)),
      };
    });
    this.t0 = performance.now();
    this.timer = setInterval(() => this.tick(), 1000 / this.hz);
  }

  /** ms since sampling started (the samples' `t` clock); undefined before. */
  elapsedMs(): number | undefined {
    return this.t0 === 0 ? undefined : performance.now() - this.t0;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Guest-physical address of kernel virtual address `va`. */
  private pa(va: GuestVirtAddr): GuestPhysAddr {
    const t = translate(this.vm.memory, this.cr3, va);
    if ('error' in t) throw new Error(`monitor: kernel address 0x${va.toString(16)}: ${t.error}`);
    return t.gpa;
  }

  private taskPa(va: GuestVirtAddr): GuestPhysAddr {
    const page = va & ~0xfffn;
    let base = this.pages.get(page);
    if (base === undefined) {
      base = this.pa(page);
      this.pages.set(page, base);
    }
    return base + Number(va & 0xfffn);
  }

  /** `len` bytes of a task at `va`, across a page boundary if they straddle one. */
  private taskBytes(va: GuestVirtAddr, len: number): Uint8Array {
    const first = Math.min(len, 4096 - Number(va & 0xfffn));
    const head = this.vm.memory.read(this.taskPa(va), first);
    if (first === len) return head;
    const out = new Uint8Array(len);
    out.set(head);
    out.set(this.vm.memory.read(this.taskPa(va + BigInt(first)), len - first), first);
    return out;
  }

  private tick(): void {
    // The VM's memory is released only after it has ended: checked first, on this thread.
    if (this.vm.ended) {
      this.stop();
      return;
    }
    const t = performance.now();
    try {
      this.samples.push({ t: t - this.t0, cpus: this.cpus.map((c, cpu) => this.read(c, cpu)) });
    } catch (e) {
      this.failure = (e as Error).message;
      this.stop();
    }
    this.costMs += performance.now() - t;
  }

  private read(c: CpuAddresses, cpu: number): CpuSample {
    const mem = this.vm.memory;
    const curr = mem.readU64(c.curr);
    const idle = curr === c.idleTask;
    const pid = idle ? 0 : mem.readU32(this.taskPa(curr + BigInt(this.layout.pid)));
    const comm = idle ? 'idle' : new TextDecoder().decode(this.taskBytes(curr + BigInt(this.layout.comm), COMM_LEN)).replace(/\0.*$/s, '');
    const word = mem.readU64(this.onlineMask + Math.floor(cpu / 64) * 8);
    const nr = mem.readU32(c.nrRunning);
    // Guest CPU n is vCPU n. Read only where a stall is in question: a file read per CPU per sample costs.
    const vcpu = idle && nr > 0 ? this.vm.vcpuRunState?.(cpu) : undefined;
    return {
      online: ((word >> BigInt(cpu % 64)) & 1n) === 1n,
      nr,
      scx: mem.readU32(c.scxNrRunning),
      pid,
      comm,
      idle,
      clock: Number(mem.readU64(c.clock)),
      ...(vcpu ? { vcpu } : {}),
    };
  }
}

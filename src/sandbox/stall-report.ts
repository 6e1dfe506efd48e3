// What the sandbox VM was doing when its heartbeat stopped, captured before QEMU is killed:
// QEMU's per-thread CPU time (a spinning TCG thread is a livelock, an idle one a wait that
// never ends), the vCPU's registers sampled through QMP and symbolised against the sandbox
// kernel's kallsyms, the instructions at RIP, the sandbox kernel's own console (its
// warnings: soft lockups, RCU stalls, hung tasks), and the KVM counters of the last heartbeat.
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { QmpClient } from './qmp.ts';

export interface StallCaptureOptions {
  /** QEMU's QMP socket. */
  qmpSocket: string;
  qemuPid: number;
  /** The file QEMU writes the sandbox kernel's console (ttyS1) to. */
  kernelLog: string;
  /** A copy of the sandbox kernel's /proc/kallsyms (same boot layout: nokaslr), if cached. */
  kallsyms?: string;
  /** The last heartbeat's counters (see init-script.ts) and how long ago it came. */
  lastHeartbeat?: { stats: string; agoMs: number };
  silentMs: number;
  /** How long to watch the threads' CPU time. */
  sampleMs?: number;
  /** Whether a heartbeat arrived after the given performance.now() time (for the NMI probe). */
  heartbeatSince?: (t: number) => boolean;
  /** How long to wait for a heartbeat after the NMI probe. */
  probeMs?: number;
}

const CLK_TCK = 100;
const RIP_SAMPLES = 8;

/** The report, as text for a file and an error message; every part that fails says why. */
export async function captureStall(o: StallCaptureOptions): Promise<string> {
  const sampleMs = o.sampleMs ?? 2000;
  const sections: string[] = [`no heartbeat for ${Math.round(o.silentMs / 1000)} s`];
  sections.push(`last heartbeat (${o.lastHeartbeat ? `${Math.round(o.lastHeartbeat.agoMs / 1000)} s ago): ${o.lastHeartbeat.stats || '(no counters)'}` : 'none)'}`);

  const before = attempt(() => threadTimes(o.qemuPid));
  const registers = await attempt(() => sampleRegisters(o.qmpSocket, sampleMs));
  const after = attempt(() => threadTimes(o.qemuPid));
  sections.push(section('QEMU threads, CPU over the sampling window', () => formatThreads(before, after, sampleMs)));

  const symbols = o.kallsyms ? attempt(() => Kallsyms.parse(readFileSync(o.kallsyms!, 'utf8'))) : new Error('no kallsyms copy cached yet (made on the next sandbox start)');
  sections.push(
    section('vCPU RIP samples', () => {
      if (registers instanceof Error) throw registers;
      const where = (rip: string) => (symbols instanceof Error ? '' : (symbols.symbolize(BigInt(`0x${rip}`)) ?? '(not sandbox-kernel text: the nested guest, or user space)'));
      return registers.rips.map((s) => `  ${s.rip} cpl=${s.cpl} cr3=${s.cr3}  ${where(s.rip)}`).join('\n');
    }),
  );
  if (symbols instanceof Error) sections.push(`  (symbols: ${symbols.message})`);
  sections.push(section('info registers -a (without FPU/vector state)', () => (registers instanceof Error ? throwIt(registers) : withoutVectorState(registers.full))));
  sections.push(section('x/12i $pc', () => (registers instanceof Error ? throwIt(registers) : registers.code.trimEnd())));
  sections.push(section('info lapic (IRR with the timer vector 0xec set and ISR empty: a lost timer interrupt)', () => (registers instanceof Error ? throwIt(registers) : registers.lapic.trimEnd())));
  if (o.heartbeatSince) {
    const probe = await nmiProbe(o.qmpSocket, o.heartbeatSince, o.probeMs ?? 15_000);
    sections.push(section('NMI probe', () => `  ${probe}`));
  }
  sections.push(section('sandbox kernel console (last 60 lines)', () => lastLines(readFileSync(o.kernelLog, 'utf8'), 60) || '  (empty: no warnings)'));
  return sections.join('\n');
}

interface RipSample {
  rip: string;
  cpl: string;
  cr3: string;
}

interface Registers {
  rips: RipSample[];
  full: string;
  code: string;
  lapic: string;
}

/**
 * Injects an NMI and waits for a heartbeat. One that comes back means the VM was waiting for an
 * interrupt it never got (QEMU before 10.2 can drop an interrupt request: see README,
 * troubleshooting), not spinning; QEMU is killed either way, the stall counted.
 */
async function nmiProbe(socket: string, heartbeatSince: (t: number) => boolean, waitMs: number): Promise<string> {
  const qmp = await QmpClient.connect(socket, 3000).catch((e: Error) => e);
  if (qmp instanceof Error) return `not sent: ${qmp.message}`;
  const t = performance.now();
  try {
    await qmp.execute('inject-nmi', undefined, 3000);
  } catch (e) {
    return `not sent: ${(e as Error).message}`;
  } finally {
    qmp.close();
  }
  while (performance.now() - t < waitMs) {
    if (heartbeatSince(t)) return `a heartbeat came ${((performance.now() - t) / 1000).toFixed(1)} s after an NMI: the VM had been waiting for a lost interrupt`;
    await sleep(250);
  }
  return `no heartbeat within ${waitMs / 1000} s of an NMI`;
}

async function sampleRegisters(socket: string, windowMs: number): Promise<Registers> {
  const qmp = await QmpClient.connect(socket, 3000);
  try {
    const rips: RipSample[] = [];
    for (let i = 0; i < RIP_SAMPLES; i++) {
      const text = await qmp.human('info registers', 3000);
      const rip = /RIP=([0-9a-f]+)/.exec(text)?.[1];
      const cpl = /CPL=(\d)/.exec(text)?.[1];
      const cr3 = /CR3=([0-9a-f]+)/.exec(text)?.[1];
      if (rip) rips.push({ rip, cpl: cpl ?? '?', cr3: cr3 ?? '?' });
      await sleep(windowMs / RIP_SAMPLES);
    }
    const full = await qmp.human('info registers -a', 3000);
    const code = await qmp.human('x/12i $pc', 3000);
    const lapic = await qmp.human('info lapic', 3000);
    return { rips, full, code, lapic };
  } finally {
    qmp.close();
  }
}

interface ThreadTime {
  comm: string;
  ticks: number;
}

/** utime+stime of every thread of `pid`, from /proc (comm names TCG vCPU threads "CPU 0/TCG"). */
export function threadTimes(pid: number, proc = '/proc'): Map<number, ThreadTime> {
  const out = new Map<number, ThreadTime>();
  for (const tid of readdirSync(`${proc}/${pid}/task`)) {
    const stat = readFileSync(`${proc}/${pid}/task/${tid}/stat`, 'utf8');
    // comm is in parentheses and may hold spaces: fields resume after the last ')'.
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const fields = stat.slice(close + 2).split(' ');
    out.set(Number(tid), { comm, ticks: Number(fields[11]) + Number(fields[12]) });
  }
  return out;
}

export function formatThreads(before: Map<number, ThreadTime> | Error, after: Map<number, ThreadTime> | Error, windowMs?: number): string {
  if (before instanceof Error) throw before;
  if (after instanceof Error) throw after;
  const rows = [...after].map(([tid, t]) => ({ tid, comm: t.comm, delta: t.ticks - (before.get(tid)?.ticks ?? t.ticks), total: t.ticks }));
  rows.sort((a, b) => b.delta - a.delta || b.total - a.total);
  return rows
    .slice(0, 8)
    .map(
      (r) =>
        `  ${String(r.tid).padStart(7)} ${r.comm.padEnd(18)} ${(r.delta / CLK_TCK).toFixed(2)} s in the window${windowMs ? ` of ${(windowMs / 1000).toFixed(1)} s` : ''}, ${(r.total / CLK_TCK).toFixed(1)} s in all`,
    )
    .join('\n');
}

/** /proc/kallsyms text, for RIP lookups: text symbols only, ascending. */
export class Kallsyms {
  private constructor(
    private readonly addrs: bigint[],
    private readonly names: string[],
  ) {}

  static parse(text: string): Kallsyms {
    const rows: Array<[bigint, string]> = [];
    for (const line of text.split('\n')) {
      const [addr, type, name, module] = line.split(/\s+/);
      if (!addr || !name || !type || !'tTwW'.includes(type) || /^0+$/.test(addr)) continue;
      rows.push([BigInt(`0x${addr}`), module ? `${name} ${module}` : name]);
    }
    if (rows.length === 0) throw new Error('kallsyms has no text symbols with addresses (read without root?)');
    rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return new Kallsyms(
      rows.map((r) => r[0]),
      rows.map((r) => r[1]),
    );
  }

  /** `func+0x1f [module]` for an address at most 64 KiB past a text symbol, else undefined. */
  symbolize(addr: bigint): string | undefined {
    let lo = 0;
    let hi = this.addrs.length - 1;
    if (addr < this.addrs[0]!) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.addrs[mid]! <= addr) lo = mid;
      else hi = mid - 1;
    }
    const off = addr - this.addrs[lo]!;
    if (off > 0x10000n) return undefined;
    const [name, module] = this.names[lo]!.split(' ');
    return `${name}+0x${off.toString(16)}${module ? ` ${module}` : ''}`;
  }
}

function withoutVectorState(text: string): string {
  return text
    .split('\n')
    .filter((l) => !/^(FPR|YMM|XMM|ZMM|Opmask)/.test(l.trim()) && l.trim() !== '')
    .join('\n');
}

function lastLines(text: string, n: number): string {
  const lines = text
    .replace(/\r/g, '')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escapes are what it strips
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
    .trimEnd()
    .split('\n');
  return lines
    .slice(-n)
    .filter(Boolean)
    .map((l) => `  ${l}`)
    .join('\n');
}

function section(title: string, body: () => string): string {
  let text: string;
  try {
    text = body();
  } catch (err) {
    text = `  (unavailable: ${(err as Error).message})`;
  }
  return `--- ${title} ---\n${text}`;
}

function attempt<T>(f: () => T): T | Error;
function attempt<T>(f: () => Promise<T>): Promise<T | Error>;
function attempt<T>(f: () => T | Promise<T>): T | Error | Promise<T | Error> {
  try {
    const r = f();
    return r instanceof Promise ? r.catch((e: unknown) => toError(e)) : r;
  } catch (e) {
    return toError(e);
  }
}

function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

function throwIt(e: Error): never {
  throw e;
}

import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { kallsymsShell, KernelWatch, planSymbols, SYMBOL_PREFIX } from './kernel-watch.ts';
import { SCHED_PREFIX, STEP_PREFIX } from '../fixtures/schedulers/index.ts';
import type { RunqueueSampler } from './monitor/sampler.ts';

const watch = { name: 'state', symbol: 'system_state', offset: 0, len: 4 as const, kind: 'user' as const, freeze: true };

describe('planSymbols and kallsymsShell', () => {
  it("asks for each watched symbol once, scx_root with an exit-kind watch, the monitor's, and the page-table root to translate them", () => {
    expect(planSymbols({ watches: [] })).toEqual([]);
    expect(planSymbols({ watches: [watch, { ...watch, name: 'again' }] })).toEqual(['system_state', 'init_top_pgt']);
    expect(planSymbols({ watches: [watch], exitKindOffset: 848 })).toEqual(['system_state', 'scx_root', 'init_top_pgt']);
    const monitor = { layout: { nrRunning: 0, curr: 8, idle: 16, clock: 24, scxNrRunning: 32, pid: 40, comm: 48 }, hz: 100, cpus: 2 };
    expect(planSymbols({ watches: [], monitor })).toEqual(['runqueues', '__per_cpu_offset', '__cpu_online_mask', 'init_top_pgt']);
  });

  it('prints matching kallsyms lines with the prefix, then done', () => {
    const kallsyms = 'ffffffff8f000010 D system_state\nffffffff8f000020 d system_state_old\nffffffff8f000030 B scx_root\nffffffffc0000000 t scx_root\t[mod]\n';
    const script = kallsymsShell(['system_state', 'scx_root'])
      .replace('/proc/kallsyms', '-')
      .split('\n')
      .filter((l) => !l.startsWith('echo 0 >') && !l.includes('vmcoreinfo'))
      .join('\n');
    const out = execFileSync('sh', ['-c', script], { input: kallsyms, encoding: 'utf8' });
    expect(out).toBe(`${SYMBOL_PREFIX} ffffffff8f000010 D system_state\n${SYMBOL_PREFIX} ffffffff8f000030 B scx_root\n${SYMBOL_PREFIX} done\n`);
  });

  it('always reports where VMCOREINFO is; greps kallsyms only for symbols to watch', () => {
    const script = kallsymsShell([]);
    expect(script).not.toContain('/proc/kallsyms');
    const out = execFileSync('sh', ['-c', script.replace('/sys/kernel/vmcoreinfo', '-')], { input: '1f2e3000 1000\n', encoding: 'utf8' });
    expect(out).toBe(`${SYMBOL_PREFIX} vmcoreinfo 1f2e3000 1000\n${SYMBOL_PREFIX} done\n`);
  });
});

describe('KernelWatch', () => {
  it('notes a kernel without VMCOREINFO: no symbol table, nothing else changes', () => {
    const kw = new KernelWatch({ watches: [] });
    kw.watch('com1', `${SYMBOL_PREFIX} vmcoreinfo \n${SYMBOL_PREFIX} done\n`);
    expect(kw.symbolsNote).toBe('no symbols: the guest kernel has no /sys/kernel/vmcoreinfo');
    expect(kw.kernelSymbols).toBeUndefined();
    expect(kw.notes).toEqual([]);
  });

  it('reads the VMCOREINFO line the kernel prints (%pa: 0x-prefixed), and decodes once a VM is attached', () => {
    const kw = new KernelWatch({ watches: [] });
    kw.watch('com1', `${SYMBOL_PREFIX} vmcoreinfo 0x0000000100c66000 1024\n`);
    expect(kw.symbolsNote).toBeUndefined(); // queued; without a VM there is nothing to read
    kw.watch('com1', `${SYMBOL_PREFIX} vmcoreinfo what\n`);
    expect(kw.symbolsNote).toBe('no symbols: unexpected /sys/kernel/vmcoreinfo: what');
  });

  it('reads symbol lines split across console chunks, from COM1 or hvc0 only', () => {
    const kw = new KernelWatch({ watches: [] });
    kw.watch('com1', `[ 1.0] x\r\n${SYMBOL_PREFIX} ffffffff8f00`);
    kw.watch('com1', `0010 D system_state\r\n`);
    kw.watch('com2', `${SYMBOL_PREFIX} ffffffff8f000030 B scx_root\n`);
    kw.watch('hvc0', `${SYMBOL_PREFIX} ffffffff8f000040 B other\n`);
    expect([...kw.symbols]).toEqual([
      ['system_state', 0xffff_ffff_8f00_0010n],
      ['other', 0xffff_ffff_8f00_0040n],
    ]);
  });

  it('notes a symbol the kernel lacks and a scheduler enabled without scx_root', async () => {
    const kw = new KernelWatch({ watches: [watch], exitKindOffset: 848 });
    kw.watch('com1', `${SYMBOL_PREFIX} done\nschedvm-sched: enabled ops=simple uptime=1.0\n`);
    await kw.settled();
    expect(kw.notes).toEqual([
      'watchpoint state: the guest kernel has no symbol system_state (not in /proc/kallsyms)',
      "exit-kind watch: this kernel has no scx_root; the exit kind comes from the guest's report only",
    ]);
    expect(kw.exitKindArmed).toBe(false);
  });

  it('arms the exit-kind watch on each scheduler that attaches, and disarms it once its loader exits', async () => {
    // Guest memory: every kernel address maps through 1 GiB pages; scx_root points at 0x40001000's va.
    const PML4 = 0x1000;
    const sched = 0xffff_8880_4000_1000n;
    const memory = {
      readU64: (gpa: number) => {
        if (gpa >= PML4 && gpa < PML4 + 0x1000) return 0x2000n | 1n;
        if (gpa >= 0x2000 && gpa < 0x3000) return (BigInt((gpa - 0x2000) / 8) << 30n) | 1n | (1n << 7n);
        return sched;
      },
    };
    const calls: string[] = [];
    const vm = {
      memory,
      ended: false,
      pageTableRoots: async () => [BigInt(PML4)],
      armWatchpoint: async (w: { name: string; gpa: bigint }) => void calls.push(`arm ${w.name} 0x${w.gpa.toString(16)}`),
      disarmWatchpoint: async (name: string) => void calls.push(`disarm ${name}`),
    };
    const kw = new KernelWatch({ watches: [], exitKindOffset: 0x10 });
    kw.attach(vm as unknown as Parameters<KernelWatch['attach']>[0]);
    const run = async (text: string) => {
      kw.watch('com1', text);
      await kw.settled();
    };
    await run(`${SYMBOL_PREFIX} ffffffff8f000030 B scx_root\n${SYMBOL_PREFIX} done\nschedvm-sched: enabled ops=simple uptime=1.0\n`);
    expect(calls).toEqual(['arm scx_exit_kind 0x40001010']); // (va & 1 GiB-1) of scx_sched + exit_kind's offset
    expect(kw.exitKindArmed).toBe(true);
    await run('schedvm-sched: exit-status 0\n');
    expect(calls.at(-1)).toBe('disarm scx_exit_kind');
    expect(kw.exitKindArmed).toBe(false);
    await run('schedvm-sched: enabled ops=central uptime=9.0\n');
    expect(calls).toEqual(['arm scx_exit_kind 0x40001010', 'disarm scx_exit_kind', 'arm scx_exit_kind 0x40001010']);
    expect(kw.notes.filter((n) => n.startsWith('exit-kind watch:')).map((n) => n.split(' ').slice(0, 3).join(' '))).toEqual([
      'exit-kind watch: armed',
      'exit-kind watch: disarmed,',
      'exit-kind watch: armed',
    ]);
  });
});

describe('KernelWatch on the monitor clock', () => {
  /** A watch whose monitor's clock reads `now.ms`. */
  const clocked = (now: { ms: number }) => {
    const kw = new KernelWatch({ watches: [] });
    kw.useMonitor({ elapsedMs: () => now.ms } as unknown as RunqueueSampler);
    return kw;
  };

  it("stamps a step's start line and its last outcome line, not a reload's cycle lines", () => {
    const now = { ms: 0 };
    const kw = clocked(now);
    const at = (ms: number, line: string) => {
      now.ms = ms;
      kw.watch('com1', `${line}\n`);
    };
    at(100, `${STEP_PREFIX} 0 start cgroup_move at=200 up=900`);
    at(700, `${STEP_PREFIX} 0 moved 2`);
    at(900, `${STEP_PREFIX} 0 ok`);
    at(1000, `${STEP_PREFIX} 1 start reload at=300 up=1000`);
    at(1500, `${STEP_PREFIX} 1 cycle 1 fail`);
    at(1600, `${STEP_PREFIX} 1 fail 0 of 2 cycles`);
    expect([...kw.stepTimes]).toEqual([
      [0, { startMs: 100, endMs: 900 }],
      [1, { startMs: 1000, endMs: 1600 }],
    ]);
  });

  it("opens a scheduler window at each enabled and closes it at its loader's exit or a detach", () => {
    const now = { ms: 0 };
    const kw = clocked(now);
    for (const [ms, line] of [
      [50, `${SCHED_PREFIX} enabled`],
      [60, `${SCHED_PREFIX} enabled`],
      [400, `${SCHED_PREFIX} detached`],
      [500, `${SCHED_PREFIX} enabled`],
      [800, `${SCHED_PREFIX} exit-status 0`],
    ] as const) {
      now.ms = ms;
      kw.watch('com1', `${line}\n`);
    }
    expect(kw.schedulerWindows).toEqual([
      { fromMs: 50, toMs: 400 },
      { fromMs: 500, toMs: 800 },
    ]);
  });

  it('a scheduler attached before the monitor started is in a window from its first sample; one gone by then is not', () => {
    const now = { ms: 0 };
    const early = new KernelWatch({ watches: [] });
    early.watch('com1', `${SCHED_PREFIX} enabled ops=simple\n`);
    early.useMonitor({ elapsedMs: () => now.ms } as unknown as RunqueueSampler);
    now.ms = 300;
    early.watch('com1', `${SCHED_PREFIX} exit-status 0\n`);
    expect(early.schedulerWindows).toEqual([{ fromMs: 0, toMs: 300 }]);
    const gone = new KernelWatch({ watches: [] });
    gone.watch('com1', `${SCHED_PREFIX} enabled ops=simple\n${SCHED_PREFIX} detached\n`);
    gone.useMonitor({ elapsedMs: () => now.ms } as unknown as RunqueueSampler);
    expect(gone.schedulerWindows).toEqual([]);
  });
});

// The stall report's parts against stand-ins: a fake /proc, a fake QMP server on a unix
// socket (answering as QEMU's human-monitor-command does), kallsyms text.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { captureStall, formatThreads, Kallsyms, threadTimes } from './stall-report.ts';

const KALLSYMS = ['ffffffff81000000 T _stext', 'ffffffff81001000 T do_idle', 'ffffffff81002000 t svm_vcpu_run\t[kvm_amd]', 'ffffffff81003000 D some_data', '0000000000000000 T hidden'].join('\n');

const dirs: string[] = [];
const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'schedvm-stall-'));
  dirs.push(d);
  return d;
};

describe('Kallsyms', () => {
  const syms = Kallsyms.parse(KALLSYMS);
  test('names the text symbol at or before an address, with its module', () => {
    expect(syms.symbolize(0xffffffff81001010n)).toBe('do_idle+0x10');
    expect(syms.symbolize(0xffffffff81002abcn)).toBe('svm_vcpu_run+0xabc [kvm_amd]');
  });
  test('gives up below the first symbol and far past the last', () => {
    expect(syms.symbolize(0x7f0000001000n)).toBeUndefined();
    expect(syms.symbolize(0xffffffff81002000n + 0x20000n)).toBeUndefined();
  });
  test('refuses kallsyms read without root (every address zero)', () => {
    expect(() => Kallsyms.parse('0000000000000000 T _stext\n')).toThrow(/without root/);
  });
});

function fakeProc(threads: Array<[number, string, number, number]>): string {
  const proc = tempDir();
  for (const [tid, comm, utime, stime] of threads) {
    mkdirSync(join(proc, '77', 'task', String(tid)), { recursive: true });
    // pid (comm) state ppid ... field 14 utime, 15 stime.
    const rest = ['S', '1', ...Array(9).fill('0'), String(utime), String(stime), '0', '0'];
    writeFileSync(join(proc, '77', 'task', String(tid), 'stat'), `${tid} (${comm}) ${rest.join(' ')}\n`);
  }
  return proc;
}

describe('QEMU thread CPU time', () => {
  test('reads utime+stime per thread, comm with spaces and parentheses included', () => {
    const times = threadTimes(
      77,
      fakeProc([
        [77, 'qemu-system-x86', 10, 5],
        [78, 'CPU 0/TCG (x)', 900, 100],
      ]),
    );
    expect(times.get(78)).toEqual({ comm: 'CPU 0/TCG (x)', ticks: 1000 });
    expect(times.get(77)!.ticks).toBe(15);
  });

  test('ranks threads by CPU in the window: a spinning TCG thread comes first', () => {
    const before = threadTimes(
      77,
      fakeProc([
        [77, 'qemu-system-x86', 10, 0],
        [78, 'CPU 0/TCG', 1000, 0],
      ]),
    );
    const after = threadTimes(
      77,
      fakeProc([
        [77, 'qemu-system-x86', 11, 0],
        [78, 'CPU 0/TCG', 1200, 0],
      ]),
    );
    const lines = formatThreads(before, after, 2000).split('\n');
    expect(lines[0]).toMatch(/78 CPU 0\/TCG\s+2\.00 s in the window of 2\.0 s, 12\.0 s in all/);
    expect(lines[1]).toMatch(/77 qemu-system-x86\s+0\.01 s/);
  });
});

let nmis = 0;

/** Answers QMP like QEMU: greeting, capabilities, human-monitor-command by a table. */
function fakeQmp(socket: string, answers: Record<string, string>): void {
  const server = createServer((conn) => {
    conn.write('{"QMP": {"version": {}, "capabilities": []}}\r\n');
    let buf = '';
    conn.on('data', (d) => {
      buf += d.toString();
      for (let eol = buf.indexOf('\n'); eol >= 0; eol = buf.indexOf('\n')) {
        const req = JSON.parse(buf.slice(0, eol)) as { execute: string; arguments?: { 'command-line': string } };
        buf = buf.slice(eol + 1);
        if (req.execute === 'qmp_capabilities') conn.write('{"return": {}}\r\n{"event": "RESUME"}\r\n');
        else if (req.execute === 'inject-nmi') {
          nmis++;
          conn.write('{"return": {}}\r\n');
        } else conn.write(`${JSON.stringify({ return: answers[req.arguments!['command-line']] ?? '' })}\r\n`);
      }
    });
  });
  server.listen(socket);
  servers.push(server);
}

describe('captureStall', () => {
  test('reports threads, symbolised RIP samples, registers, code, the kernel console and the last beat', async () => {
    const dir = tempDir();
    const socket = join(dir, 'qmp.sock');
    fakeQmp(socket, {
      'info registers': 'RAX=0 RBX=0\nRIP=ffffffff81002040 RFL=00000246 [---Z-P-] CPL=0 II=0\nCR0=80050033 CR2=0 CR3=000000010a2b4000 CR4=00350ef0\n',
      'info registers -a': 'CPU#0\nRIP=ffffffff81002040\n',
      'x/12i $pc': '0xffffffff81002040:  pause\n',
      'info lapic': 'dumping local APIC state for CPU 0\nIRR\t\t236\nISR\t\t(none)\n',
    });
    writeFileSync(join(dir, 'kallsyms'), KALLSYMS);
    writeFileSync(join(dir, 'kernel.log'), '[   61.0] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [node:123]\r\n');
    const report = await captureStall({
      qmpSocket: socket,
      qemuPid: process.pid,
      kernelLog: join(dir, 'kernel.log'),
      kallsyms: join(dir, 'kallsyms'),
      lastHeartbeat: { stats: 'exits=5 load=1.00', agoMs: 91_000 },
      silentMs: 91_000,
      sampleMs: 80,
      heartbeatSince: () => true,
    });
    expect(report).toContain('no heartbeat for 91 s');
    expect(report).toContain('last heartbeat (91 s ago): exits=5 load=1.00');
    expect(report).toMatch(/--- QEMU threads[^\n]*---\n\s+\d+ /);
    expect(report).toContain('ffffffff81002040 cpl=0 cr3=000000010a2b4000  svm_vcpu_run+0x40 [kvm_amd]');
    expect(report.match(/svm_vcpu_run\+0x40/g)!.length).toBe(8);
    expect(report).toContain('0xffffffff81002040:  pause');
    expect(report).toContain('watchdog: BUG: soft lockup - CPU#0 stuck for 22s!');
    expect(report).toMatch(/--- info lapic[^\n]*---\ndumping local APIC state for CPU 0\nIRR\t\t236/);
    expect(report).toMatch(/--- NMI probe ---\n\s+a heartbeat came [\d.]+ s after an NMI/);
    expect(nmis).toBe(1);
  });

  test('says why each part is missing when nothing answers', async () => {
    const dir = tempDir();
    const report = await captureStall({ qmpSocket: join(dir, 'none.sock'), qemuPid: 2 ** 22 + 1, kernelLog: join(dir, 'none.log'), silentMs: 90_000, heartbeatSince: () => false });
    expect(report).toContain('last heartbeat (none)');
    expect(report).toMatch(/--- QEMU threads[^\n]*---\n\s+\(unavailable: ENOENT/);
    expect(report).toMatch(/--- vCPU RIP samples ---\n\s+\(unavailable: /);
    expect(report).toContain('(symbols: no kallsyms copy cached yet');
    expect(report).toMatch(/--- NMI probe ---\n\s+not sent: /);
    expect(report).toMatch(/--- sandbox kernel console \(last 60 lines\) ---\n\s+\(unavailable: ENOENT/);
  });
});

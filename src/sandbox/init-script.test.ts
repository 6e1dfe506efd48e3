import { execFileSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { INIT_APPLETS, initScript } from './init-script.ts';
import { NINEP_OPTIONS } from './initramfs.ts';

const script = initScript({ modules: ['irqbypass.ko', 'kvm.ko', 'ccp.ko', 'kvm-amd.ko', '9p.ko'], ninepOptions: NINEP_OPTIONS });
const lines = script.split('\n');
const indexOf = (re: RegExp) => lines.findIndex((l) => re.test(l));

describe('initScript', () => {
  test('is valid shell for busybox sh', () => {
    execFileSync('busybox', ['sh', '-n'], { input: script });
  });

  test('runs as busybox sh with ttyS0 opened before anything prints (the kernel has ttyS1)', () => {
    expect(lines[0]).toBe('#!/bin/busybox sh');
    expect(indexOf(/devtmpfs/)).toBeLessThan(indexOf(/^exec <\/dev\/ttyS0 >\/dev\/ttyS0 2>&1$/));
    expect(indexOf(/^exec <\/dev\/ttyS0/)).toBeLessThan(indexOf(/^insmod/));
  });

  test('heartbeats carry KVM counters from debugfs and the load average', () => {
    expect(indexOf(/^mount -t debugfs debugfs \/dbg$/)).toBeLessThan(indexOf(/marker alive \$\(counters\)/));
    expect(script).toContain('for c in exits irq_exits halt_exits');
    expect(script).toContain('cat /dbg/kvm/$c');
  });

  test('copies kallsyms into the job dir only when asked', () => {
    expect(script).toContain('[ "$schedvm_kallsyms" = 1 ] && cat /proc/kallsyms > "/host$schedvm_job/kallsyms.tmp" && mv');
  });

  test('loads the modules in the given order, each failure reported', () => {
    expect(lines.filter((l) => l.startsWith('insmod')).map((l) => l.split(' ')[1])).toEqual([
      '/lib/modules/irqbypass.ko',
      '/lib/modules/kvm.ko',
      '/lib/modules/ccp.ko',
      '/lib/modules/kvm-amd.ko',
      '/lib/modules/9p.ko',
    ]);
    expect(lines.filter((l) => l.startsWith('insmod')).every((l) => l.includes('|| fail'))).toBe(true);
  });

  test('mounts the host root over 9p, then /dev, proc and sysfs inside it', () => {
    const mount9p = indexOf(/^mount -t 9p -o trans=virtio,version=9p2000\.L,msize=512000,cache=\w+ host \/host /);
    expect(mount9p).toBeGreaterThan(0);
    for (const re of [/mount --bind \/dev \/host\/dev/, /mount -t proc proc \/host\/proc/, /mount -t sysfs sysfs \/host\/sys/]) {
      expect(indexOf(re)).toBeGreaterThan(mount9p);
    }
  });

  test('runs job.sh chrooted with an empty environment, then syncs, reports and powers off', () => {
    const run = indexOf(/env -i \/bin\/chroot \/host \/bin\/sh "\$schedvm_job\/job\.sh" <\/dev\/null/);
    expect(indexOf(/^marker start$/)).toBeLessThan(run);
    expect(indexOf(/^status=\$\?$/)).toBeGreaterThan(run);
    expect(lines.slice(-4)).toEqual(['sync', 'marker exit $status', 'poweroff -f', '']);
    expect(script).toContain('echo "SCHEDVM-$schedvm_nonce $*"');
  });

  test('calls only the applets it installs', () => {
    const called = new Set(lines.filter((l) => !l.startsWith('#')).flatMap((l) => [...l.matchAll(/(?:^\s*|[;|&]\s*)([a-z]+)\b/g)].map((m) => m[1]!)));
    const shellWords = new Set(['exec', 'export', 'marker', 'fail', 'echo', 'if', 'then', 'else', 'fi', 'set', 'status', 'while', 'do', 'done', 'for', 'counters', 't']);
    expect(called).toContain('insmod');
    for (const word of called) if (!shellWords.has(word)) expect(INIT_APPLETS).toContain(word);
  });
});

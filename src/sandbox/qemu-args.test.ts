import { describe, expect, test } from 'vitest';
import { UserError } from '../errors.ts';
import { DEFAULT_MEM_MB, kernelCmdline, qemuArgs, sandboxMemMb } from './qemu-args.ts';

const flag = (args: string[], name: string) => args[args.indexOf(name) + 1];

describe('qemuArgs', () => {
  const args = qemuArgs({ kernel: '/k', initrd: '/i', cpus: 2, memMb: 6144, append: 'console=ttyS0', securityModel: 'passthrough', kernelLog: '/j/kernel.log', qmpSocket: '/j/qmp' });

  test('emulates an SVM-capable CPU under multi-threaded TCG', () => {
    expect(flag(args, '-accel')).toBe('tcg,thread=multi');
    expect(flag(args, '-cpu')).toBe('max');
    expect(flag(args, '-smp')).toBe('2');
    expect(flag(args, '-m')).toBe('6144');
  });

  test('boots the given kernel and initramfs, ttyS0 on stdio and ttyS1 into the kernel log, exiting instead of rebooting', () => {
    expect(args.filter((_a, i) => args[i - 1] === '-serial')).toEqual(['stdio', 'file:/j/kernel.log']);
    expect(flag(args, '-display')).toBe('none');
    expect(flag(args, '-monitor')).toBe('none');
    expect(args).toContain('-no-reboot');
    expect(flag(args, '-kernel')).toBe('/k');
    expect(flag(args, '-initrd')).toBe('/i');
    expect(flag(args, '-append')).toBe('console=ttyS0');
  });

  test('shares the host root over 9p with remapped inode numbers', () => {
    expect(flag(args, '-virtfs')).toBe('local,path=/,mount_tag=host,security_model=passthrough,id=host,multidevs=remap');
  });

  test('names its threads, so a stall report can tell the vCPU thread', () => {
    expect(flag(args, '-name')).toBe('schedvm-sandbox,debug-threads=on');
  });

  test('opens QMP on the given socket only', () => {
    expect(flag(args, '-qmp')).toBe('unix:/j/qmp,server=on,wait=off');
    expect(qemuArgs({ kernel: '/k', initrd: '/i', cpus: 1, memMb: 512, append: '', securityModel: 'none', kernelLog: '/l' })).not.toContain('-qmp');
  });

  test('points a QEMU from outside the system paths at its own firmware, first', () => {
    const own = qemuArgs({ kernel: '/k', initrd: '/i', cpus: 1, memMb: 512, append: '', securityModel: 'none', kernelLog: '/l', firmware: ['/c/usr/share/qemu', '/c/usr/share/seabios'] });
    expect(own.slice(0, 4)).toEqual(['-L', '/c/usr/share/qemu', '-L', '/c/usr/share/seabios']);
    expect(args).not.toContain('-L');
  });
});

describe('kernelCmdline', () => {
  test('sends kernel warnings to ttyS1, with a periodic tick, without KASLR and carries the job dir and nonce, not the command', () => {
    const line = kernelCmdline({ jobDir: '/tmp/schedvm-sandbox-Ab_1', nonce: '0123abcd' });
    expect(line.split(' ')).toEqual(
      expect.arrayContaining([
        'console=ttyS1',
        'loglevel=5',
        'nokaslr',
        'highres=off',
        'nohz=off',
        'panic=-1',
        'schedvm_job=/tmp/schedvm-sandbox-Ab_1',
        'schedvm_nonce=0123abcd',
        'schedvm_tty=0',
        'schedvm_kallsyms=0',
      ]),
    );
    expect(kernelCmdline({ jobDir: '/t', nonce: 'n', kallsyms: true })).toContain('schedvm_kallsyms=1');
  });

  test('passes the terminal size when our stdout is a terminal', () => {
    expect(kernelCmdline({ jobDir: '/t', nonce: 'n', terminal: { cols: 120, rows: 40 } })).toMatch(/schedvm_tty=1 schedvm_cols=120 schedvm_rows=40$/);
  });

  test('refuses a job dir the command line cannot carry', () => {
    expect(() => kernelCmdline({ jobDir: '/tmp/my dir', nonce: 'n' })).toThrow(UserError);
  });
});

describe('sandboxMemMb', () => {
  test('defaults to 6144 and accepts whole MiB', () => {
    expect(sandboxMemMb({})).toBe(DEFAULT_MEM_MB);
    expect(DEFAULT_MEM_MB).toBe(6144);
    expect(sandboxMemMb({ SCHEDVM_SANDBOX_MEM_MB: '2048' })).toBe(2048);
  });

  test('rejects anything else with a UserError naming the variable', () => {
    for (const bad of ['2G', '-1', '1.5', '100']) {
      expect(() => sandboxMemMb({ SCHEDVM_SANDBOX_MEM_MB: bad })).toThrow(/SCHEDVM_SANDBOX_MEM_MB/);
    }
  });
});

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { UserError } from '../errors.ts';
import { compareVersions, findKernel, findSandboxHost, INSTALL_HINT, isStaticExecutable } from './host-tools.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'host-tools-test-'));
  dirs.push(d);
  return d;
}

const SANDBOX_DEP = [
  'kernel/virt/lib/irqbypass.ko:',
  'kernel/arch/x86/kvm/kvm.ko: kernel/virt/lib/irqbypass.ko',
  'kernel/drivers/crypto/ccp/ccp.ko:',
  'kernel/arch/x86/kvm/kvm-amd.ko: kernel/drivers/crypto/ccp/ccp.ko kernel/arch/x86/kvm/kvm.ko kernel/virt/lib/irqbypass.ko',
  'kernel/drivers/virtio/virtio_pci.ko:',
  'kernel/net/9p/9pnet_virtio.ko:',
  'kernel/fs/9p/9p.ko:',
].join('\n');

/** A /boot and /lib/modules with the given kernels, each with or without kvm-amd. */
function fakeKernels(kernels: Record<string, boolean>): { bootDir: string; modulesRoot: string } {
  const root = scratch();
  const bootDir = join(root, 'boot');
  const modulesRoot = join(root, 'modules');
  mkdirSync(bootDir);
  for (const [version, hasKvmAmd] of Object.entries(kernels)) {
    writeFileSync(join(bootDir, `vmlinuz-${version}`), 'kernel');
    mkdirSync(join(modulesRoot, version), { recursive: true });
    const dep = hasKvmAmd ? SANDBOX_DEP : SANDBOX_DEP.replace(/.*kvm-amd.*\n/, '');
    writeFileSync(join(modulesRoot, version, 'modules.dep'), dep);
  }
  return { bootDir, modulesRoot };
}

describe('findSandboxHost', () => {
  test('names everything missing and the apt-get line that installs it, in one UserError', () => {
    const empty = scratch();
    let error: unknown;
    try {
      findSandboxHost({ binDirs: [empty], bootDir: empty, modulesRoot: empty });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UserError);
    const message = (error as Error).message;
    expect(message).toContain('qemu-system-x86_64');
    expect(message).toContain('no kernel');
    expect(message).toContain('busybox');
    expect(message).toContain(INSTALL_HINT);
    expect(INSTALL_HINT).toBe('apt-get install qemu-system-x86 linux-image-amd64 busybox-static');
  });
});

describe('findKernel', () => {
  test('picks the newest kernel whose modules include kvm-amd', () => {
    const paths = fakeKernels({ '6.1.0-9-amd64': true, '6.1.0-56-amd64': true, '6.10.0-1-amd64': false });
    const problems: string[] = [];
    const kernel = findKernel(problems, paths.bootDir, paths.modulesRoot);
    expect(problems).toEqual([]);
    expect(kernel?.version).toBe('6.1.0-56-amd64');
    expect(kernel?.vmlinuz).toBe(join(paths.bootDir, 'vmlinuz-6.1.0-56-amd64'));
  });

  test('explains why no kernel fits', () => {
    const paths = fakeKernels({ '6.1.0-9-amd64': false });
    const problems: string[] = [];
    expect(findKernel(problems, paths.bootDir, paths.modulesRoot)).toBeUndefined();
    expect(problems.join()).toMatch(/6\.1\.0-9-amd64 \(no kvm-amd module\)/);
  });
});

test('compareVersions orders numeric parts as numbers', () => {
  expect(['6.10.0-1', '6.1.0-56', '6.1.0-9', '5.19.0'].sort(compareVersions)).toEqual(['5.19.0', '6.1.0-9', '6.1.0-56', '6.10.0-1']);
});

test('isStaticExecutable tells static from dynamic executables', () => {
  expect(isStaticExecutable(process.execPath)).toBe(false); // node needs ld.so
  // glibc's ldconfig is a static(-pie) ELF (elsewhere, as on Alpine, it may be a script).
  if (existsSync('/sbin/ldconfig') && readFileSync('/sbin/ldconfig').readUInt32BE(0) === 0x7f454c46) expect(isStaticExecutable('/sbin/ldconfig')).toBe(true);
  const notElf = join(scratch(), 'script');
  writeFileSync(notElf, '#!/bin/sh\n'.padEnd(64, ' '));
  expect(isStaticExecutable(notElf)).toBe(false);
});

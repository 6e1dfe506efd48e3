// Locates what the sandbox needs on this host: QEMU, a kernel with its modules, a static
// busybox. Everything missing is reported at once, with the one command that installs it.
import { accessSync, constants, existsSync, readdirSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { UserError } from '../errors.ts';
import { isStaticElf } from '../fixtures/initramfs/elf.ts';
import { missingModules, readModuleIndex, SANDBOX_MODULES } from './kernel-modules.ts';

export const INSTALL_HINT = 'apt-get install qemu-system-x86 linux-image-amd64 busybox-static';

export interface SandboxKernel {
  version: string;
  vmlinuz: string;
  modulesDir: string;
}

export interface SandboxHost {
  qemu: string;
  kernel: SandboxKernel;
  busybox: string;
  /** util-linux setpriv, used to tie QEMU's life to ours; absent on exotic hosts. */
  setpriv: string | undefined;
}

/** Where to look; tests point these at empty directories. */
export interface HostPaths {
  /** Directories searched for executables (default: PATH, then the usual bin dirs). */
  binDirs?: string[];
  bootDir?: string;
  modulesRoot?: string;
}

export function findSandboxHost(paths: HostPaths = {}): SandboxHost {
  const binDirs = paths.binDirs ?? defaultBinDirs();
  const problems: string[] = [];
  const qemu = findExecutable('qemu-system-x86_64', binDirs);
  if (!qemu) problems.push('qemu-system-x86_64 is not installed');
  const kernel = findKernel(problems, paths.bootDir, paths.modulesRoot);
  const busybox = findStaticBusybox(problems, binDirs);
  if (!qemu || !kernel || !busybox) {
    throw new UserError(`cannot start the KVM sandbox (no usable /dev/kvm on this host, so schedvm emulates one):\n${problems.map((p) => `  - ${p}\n`).join('')}install them with: ${INSTALL_HINT}`);
  }
  return { qemu, kernel, busybox, setpriv: findExecutable('setpriv', binDirs) };
}

function defaultBinDirs(): string[] {
  const path = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  return [...path, '/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin'];
}

export function findExecutable(name: string, dirs: string[]): string | undefined {
  for (const dir of dirs) {
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/** Newest /boot/vmlinuz-<ver> whose /lib/modules/<ver> has every module the sandbox loads. */
export function findKernel(problems: string[], bootDir = '/boot', modulesRoot = '/lib/modules'): SandboxKernel | undefined {
  const versions = safeReaddir(bootDir)
    .filter((f) => f.startsWith('vmlinuz-'))
    .map((f) => f.slice('vmlinuz-'.length))
    .sort(compareVersions)
    .reverse();
  const rejected: string[] = [];
  for (const version of versions) {
    const modulesDir = join(modulesRoot, version);
    if (!existsSync(join(modulesDir, 'modules.dep'))) {
      rejected.push(`${version} (no ${modulesDir}/modules.dep)`);
      continue;
    }
    const missing = missingModules(readModuleIndex(modulesDir), SANDBOX_MODULES);
    if (missing.length > 0) {
      rejected.push(`${version} (no ${missing.join(', ')} module)`);
      continue;
    }
    const vmlinuz = join(bootDir, `vmlinuz-${version}`);
    try {
      accessSync(vmlinuz, constants.R_OK);
    } catch {
      // Ubuntu installs kernels mode 0600.
      problems.push(`${vmlinuz} is not readable by this user (try: sudo chmod 0644 ${vmlinuz})`);
      return undefined;
    }
    return { version, vmlinuz, modulesDir };
  }
  problems.push(versions.length === 0 ? `no kernel in ${bootDir} (vmlinuz-*)` : `no kernel in ${bootDir} has the modules the sandbox needs: ${rejected.join('; ')}`);
  return undefined;
}

/** Orders kernel versions numerically: 6.1.0-9 < 6.1.0-56 < 6.10.0-1. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/(\d+)/);
  const pb = b.split(/(\d+)/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    if (x === y) continue;
    if (/^\d+$/.test(x) && /^\d+$/.test(y)) return Number(x) - Number(y);
    return x < y ? -1 : 1;
  }
  return 0;
}

function findStaticBusybox(problems: string[], binDirs: string[]): string | undefined {
  const found = binDirs.map((d) => join(d, 'busybox')).filter((f) => existsSync(f));
  const staticOne = found.find(isStaticExecutable);
  if (staticOne) return staticOne;
  problems.push(
    found.length > 0
      ? `${found[0]} is not a static executable (dynamically linked, or unreadable); the sandbox's initramfs needs busybox-static`
      : 'busybox is not installed (the sandbox needs busybox-static)',
  );
  return undefined;
}

/** Whether `file` is an executable that runs with no dynamic loader (false for what cannot be read or parsed). */
export function isStaticExecutable(file: string): boolean {
  try {
    return isStaticElf(readFileSync(file), file);
  } catch {
    return false;
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

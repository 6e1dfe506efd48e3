// Under TCG, the bzImage's own decompressor takes ~4 s to unpack a Debian (xz) kernel:
// half the sandbox's boot. So the sandbox boots the ELF its guests boot too, unpacked once per
// image into the kernel cache (kernelBootElf), through QEMU's PVH entry point (CONFIG_PVH),
// skipping both the real-mode setup and the decompressor.
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from '../fixtures/cache.ts';
import { kernelBootElf } from '../fixtures/kernels/boot-elf.ts';
import { kernelElfHasPvhEntry } from '../vmm/arch.ts';
import type { SandboxKernel } from './host-tools.ts';

export interface BootableKernel {
  path: string;
  /** Whether `path` is the unpacked ELF booted via PVH (else the bzImage as is). */
  pvh: boolean;
  /** Why the fast path was not taken, when it was not. */
  note?: string;
}

/** The uncompressed kernel when it can be made and has a PVH entry, else the bzImage. */
export async function bootableKernel(kernel: SandboxKernel, elfDir?: string): Promise<BootableKernel> {
  const elf = await kernelBootElf({ bzImage: kernel.vmlinuz, version: kernel.version }, elfDir);
  if ('note' in elf) return { path: kernel.vmlinuz, pvh: false, note: elf.note };
  try {
    if (!kernelElfHasPvhEntry(elf.path)) return { path: kernel.vmlinuz, pvh: false, note: 'kernel has no PVH entry point' };
  } catch (err) {
    return { path: kernel.vmlinuz, pvh: false, note: (err as Error).message };
  }
  return { path: elf.path, pvh: true };
}

/**
 * Best effort: the sandbox's own unpacked kernels (~60 MB each, `sandbox/vmlinux-*`) and their
 * symbol copies, from before it shared the kernel cache.
 */
export function dropOwnUnpackings(): void {
  try {
    const dir = cacheDir('sandbox');
    for (const f of readdirSync(dir)) {
      if (f.startsWith('vmlinux-') || f.startsWith('kallsyms-vmlinux-')) rmSync(join(dir, f), { force: true });
    }
  } catch {
    // Not ours to remove, or gone: they stay, and nothing reads them.
  }
}

// Under TCG, the bzImage's own decompressor takes ~4 s to unpack a Debian (xz) kernel:
// half the sandbox's boot. So the payload is unpacked once on the host and cached; QEMU
// then boots the uncompressed ELF through its PVH entry point (CONFIG_PVH), skipping
// both the real-mode setup and the decompressor.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cachedFile, cacheDir, writeFileDurably } from '../fixtures/cache.ts';
import { unpackBzImage } from '../fixtures/kernels/unpack.ts';
import type { SandboxKernel } from './host-tools.ts';

const XEN_ELFNOTE_PHYS32_ENTRY = 18;

export interface BootableKernel {
  path: string;
  /** Whether `path` is the unpacked ELF booted via PVH (else the bzImage as is). */
  pvh: boolean;
  /** Why the fast path was not taken, when it was not. */
  note?: string;
}

/** The uncompressed kernel when it can be made and has a PVH entry, else the bzImage. */
export function bootableKernel(kernel: SandboxKernel): BootableKernel {
  const bzImage = readFileSync(kernel.vmlinuz);
  const dir = cacheDir('sandbox');
  const file = `vmlinux-${kernel.version}-${createHash('sha256').update(bzImage).digest('hex').slice(0, 16)}`;
  const path = join(dir, file);
  if (cachedFile(path)) return { path, pvh: true };
  try {
    const elf = unpackBzImage(bzImage);
    if (!hasPvhEntry(elf)) return { path: kernel.vmlinuz, pvh: false, note: 'kernel has no PVH entry point' };
    writeFileDurably(path, elf);
    for (const old of readdirSync(dir)) {
      if (old.startsWith('vmlinux-') && old !== file && !old.endsWith('.tmp')) rmSync(join(dir, old), { force: true });
    }
    return { path, pvh: true };
  } catch (err) {
    return { path: kernel.vmlinuz, pvh: false, note: (err as Error).message };
  }
}

/** Whether a 64-bit ELF carries the Xen PHYS32_ENTRY note that QEMU's PVH boot needs. */
export function hasPvhEntry(elf: Buffer): boolean {
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) return false;
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  for (let i = 0; i < elf.readUInt16LE(0x38); i++) {
    const ph = phoff + i * phentsize;
    if (elf.readUInt32LE(ph) !== 4 /* PT_NOTE */) continue;
    let at = Number(elf.readBigUInt64LE(ph + 8));
    const end = at + Number(elf.readBigUInt64LE(ph + 32));
    while (at + 12 <= end) {
      const namesz = elf.readUInt32LE(at);
      const descsz = elf.readUInt32LE(at + 4);
      const name = elf.toString('latin1', at + 12, at + 12 + namesz).replace(/\0+$/, '');
      if (name === 'Xen' && elf.readUInt32LE(at + 8) === XEN_ELFNOTE_PHYS32_ENTRY) return true;
      at += 12 + align4(namesz) + align4(descsz);
    }
  }
  return false;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

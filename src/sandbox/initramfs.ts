// Builds the sandbox VM's initramfs (static busybox, /init, the .ko files it loads) and
// caches it under cacheDir('sandbox'), keyed by a hash of everything that goes into it.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CpioWriter } from '../fixtures/initramfs/cpio.ts';
import { cachedFile, cacheDir, writeFileDurably } from '../fixtures/cache.ts';
import type { SandboxHost } from './host-tools.ts';
import { INIT_APPLETS, initScript, INIT_SCRIPT_VERSION } from './init-script.ts';
import { missingModules, moduleLoadOrder, readModule, readModuleIndex, SANDBOX_MODULES, SANDBOX_OPTIONAL_MODULES } from './kernel-modules.ts';

/**
 * 9p mount options for the host root. cache=loose lets the guest keep file data and
 * attributes: node and vitest read and stat thousands of files (the unit project took
 * 86 s with loose; with cache=mmap, over 390 s and failures). The price (checked): a file
 * the guest has already read keeps its old contents and size when the host changes it
 * during the run; new host files do show up. Nothing on the host writes into the tree
 * while the command runs (job.sh is written before boot; watch mode cannot work over 9p
 * anyway, it has no change notifications), and what the command writes reaches the host
 * through the init's `sync` before power-off.
 */
export const NINEP_OPTIONS = 'trans=virtio,version=9p2000.L,msize=512000,cache=loose';

export interface BuiltInitramfs {
  path: string;
  /** False when a cached image was reused. */
  built: boolean;
}

export function sandboxInitramfs(host: SandboxHost): BuiltInitramfs {
  const index = readModuleIndex(host.kernel.modulesDir);
  const optional = SANDBOX_OPTIONAL_MODULES.filter((m) => missingModules(index, [m]).length === 0);
  const modulePaths = moduleLoadOrder(index, [...SANDBOX_MODULES, ...optional]);
  const modules = modulePaths.map((p) => ({ path: p, name: basename(p).replace(/\.(gz|xz|zst)$/, '') }));
  const init = initScript({ modules: modules.map((m) => m.name), ninepOptions: NINEP_OPTIONS });
  const busybox = readFileSync(host.busybox);

  const hash = createHash('sha256');
  hash.update(`init v${INIT_SCRIPT_VERSION}\0kernel ${host.kernel.version}\0${init}\0`).update(busybox);
  for (const m of modules) hash.update(`\0${m.path}\0`).update(readFileSync(join(host.kernel.modulesDir, m.path)));
  const dir = cacheDir('sandbox');
  const file = `initramfs-${host.kernel.version}-${hash.digest('hex').slice(0, 16)}.cpio`;
  const path = join(dir, file);
  if (cachedFile(path)) return { path, built: false };

  const cpio = new CpioWriter();
  for (const d of ['dev', 'host', 'lib/modules']) cpio.addDir(d);
  cpio.addFile('init', init, 0o755);
  cpio.addFile('bin/busybox', busybox, 0o755);
  for (const applet of INIT_APPLETS) cpio.addSymlink(`bin/${applet}`, 'busybox');
  for (const m of modules) cpio.addFile(`lib/modules/${m.name}`, readModule(host.kernel.modulesDir, m.path));

  // A concurrent run never sees a half-written image.
  writeFileDurably(path, cpio.finish());
  for (const old of readdirSync(dir)) {
    if (old.startsWith('initramfs-') && old.endsWith('.cpio') && old !== file) rmSync(join(dir, old), { force: true });
  }
  return { path, built: true };
}

// Which .ko files the sandbox's init must insmod, in load order, read from the kernel's
// own modules.dep (so dependencies such as ccp for kvm-amd are never hard-coded).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gunzipSync } from 'node:zlib';

/** What the sandbox loads: KVM for the emulated AMD SVM CPU, then virtio-pci + 9p for the host root. */
export const SANDBOX_MODULES = ['kvm-amd', 'virtio_pci', '9pnet_virtio', '9p'] as const;
/** Loaded when the kernel has them: tun gives the command /dev/net/tun (virtio-net's TAP backend). */
export const SANDBOX_OPTIONAL_MODULES = ['tun'] as const;

export interface ModuleIndex {
  /** module name -> path relative to /lib/modules/<ver>, and its dependencies' paths */
  deps: Map<string, { path: string; deps: string[] }>;
  builtin: Set<string>;
}

/** `kernel/arch/x86/kvm/kvm-amd.ko.xz` -> `kvm_amd` (the kernel treats - and _ alike). */
export function moduleName(path: string): string {
  return basename(path)
    .replace(/\.ko(\.(gz|xz|zst))?$/, '')
    .replaceAll('-', '_');
}

export function parseModuleIndex(modulesDep: string, modulesBuiltin: string): ModuleIndex {
  const deps = new Map<string, { path: string; deps: string[] }>();
  for (const line of modulesDep.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const path = line.slice(0, colon);
    deps.set(moduleName(path), {
      path,
      deps: line
        .slice(colon + 1)
        .trim()
        .split(/\s+/)
        .filter(Boolean),
    });
  }
  const builtin = new Set(modulesBuiltin.split('\n').filter(Boolean).map(moduleName));
  return { deps, builtin };
}

export function readModuleIndex(modulesDir: string): ModuleIndex {
  let builtin = '';
  try {
    builtin = readFileSync(join(modulesDir, 'modules.builtin'), 'utf8');
  } catch {
    // Optional: without it every wanted module must be a .ko.
  }
  return parseModuleIndex(readFileSync(join(modulesDir, 'modules.dep'), 'utf8'), builtin);
}

/** Names from `wanted` that are neither loadable nor built in. */
export function missingModules(index: ModuleIndex, wanted: readonly string[]): string[] {
  return wanted.filter((m) => !index.deps.has(moduleName(m)) && !index.builtin.has(moduleName(m)));
}

/**
 * Module paths to insmod, each after its dependencies, without repeats; built-ins are skipped.
 * modules.dep lists a module's dependencies so that loading them last-to-first works.
 */
export function moduleLoadOrder(index: ModuleIndex, wanted: readonly string[]): string[] {
  const order: string[] = [];
  for (const name of wanted) {
    const entry = index.deps.get(moduleName(name));
    if (!entry) {
      if (index.builtin.has(moduleName(name))) continue;
      throw new Error(`kernel module '${name}' is neither in modules.dep nor built in`);
    }
    for (const path of [...entry.deps].reverse().concat(entry.path)) {
      if (!order.includes(path)) order.push(path);
    }
  }
  return order;
}

/** A module's ELF bytes: busybox insmod cannot decompress, so compressed modules are unpacked here. */
export function readModule(modulesDir: string, path: string): Buffer {
  const file = join(modulesDir, path);
  if (path.endsWith('.ko')) return readFileSync(file);
  if (path.endsWith('.ko.gz')) return gunzipSync(readFileSync(file));
  const tool = path.endsWith('.ko.xz') ? 'xz' : path.endsWith('.ko.zst') ? 'zstd' : undefined;
  if (!tool) throw new Error(`kernel module ${file}: unknown compression`);
  try {
    return execFileSync(tool, ['-dc', file], { maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    throw new Error(`kernel module ${file} is ${tool}-compressed and '${tool} -dc' failed: ${(err as Error).message}`);
  }
}

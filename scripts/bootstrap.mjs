#!/usr/bin/env node
// Installs what schedvm needs, idempotently, before any of its TypeScript can run:
// npm dependencies (from the lockfile) and the Debian packages the VMM, the guests and the
// sandbox use. Plain JavaScript on purpose: nothing else is installed yet.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

// binutils: the bare-metal guests; gcc + linux-libc-dev: the KVM ABI check; the rest: the sandbox.
export const DEBIAN_PACKAGES = [
  'binutils',
  'gcc',
  'libc6-dev',
  'linux-libc-dev',
  'qemu-system-x86',
  'linux-image-amd64',
  'busybox-static',
  'cpio',
  'util-linux',
  'e2fsprogs', // mkfs.ext4 -d and debugfs: the virtio-blk test's images
  'clang-19',
  'llvm-19',
  'lld-19',
  'libelf-dev',
  'zlib1g-dev',
  'libzstd-dev',
  'pkg-config',
  'make',
  'xz-utils',
  'zstd',
  'stress-ng',
  'rt-tests', // host programs a workload packs into the guest (scenarios/workload/programs.yaml)
];

function log(msg) {
  process.stderr.write(`schedvm bootstrap: ${msg}\n`);
}

function ensureNpmDeps() {
  const lock = join(ROOT, 'package-lock.json');
  const installed = join(ROOT, 'node_modules', '.package-lock.json');
  if (existsSync(installed) && statSync(installed).mtimeMs >= statSync(lock).mtimeMs) return;
  log('installing npm dependencies (npm ci)');
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm ci failed');
}

function missingDebianPackages() {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format, not a template
  const r = spawnSync('dpkg-query', ['-W', '-f', '${Package} ${db:Status-Status}\n', ...DEBIAN_PACKAGES], { encoding: 'utf8' });
  const ok = new Set(
    r.stdout
      .split('\n')
      .filter((l) => l.endsWith(' installed'))
      .map((l) => l.split(' ')[0]),
  );
  return DEBIAN_PACKAGES.filter((p) => !ok.has(p));
}

function ensureDebianPackages() {
  const missing = missingDebianPackages();
  if (missing.length === 0) return;
  const cmd = `apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) {
    throw new Error(`missing Debian packages: ${missing.join(', ')}. Install them as root: sudo ${cmd}`);
  }
  log(`installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
}

try {
  ensureNpmDeps();
  ensureDebianPackages();
} catch (e) {
  log(e.message);
  process.exit(1);
}

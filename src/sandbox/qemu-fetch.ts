// Which QEMU the sandbox runs. Debian 12's own (7.2) loses interrupts in its TCG emulation of
// nested SVM often enough to freeze the sandbox VM, or the guest inside it, while sched_ext
// schedulers run (see README, troubleshooting). Debian's bookworm-backports carries QEMU 10
// built for Debian 12: it is downloaded once into the cache (never installed: the machine's apt
// sources and packages stay as they are) and run from there, on the libraries the system QEMU
// package already brought in. Anywhere else, or when the download fails, the system QEMU runs.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import { cacheDir } from '../fixtures/cache.ts';
import { machineDebianSource, PrivateApt } from '../fixtures/kernels/apt.ts';
import { withLock } from '../fixtures/kernels/lock.ts';

export interface SandboxQemu {
  path: string;
  /** Firmware directories for `-L` (the downloaded QEMU's own BIOS and option ROMs). */
  firmware: string[];
  /** Where it came from, for logs: `system` or `bookworm-backports`. */
  origin: string;
}

const BACKPORTS_SUITE = 'bookworm-backports';
const PACKAGES = ['qemu-system-x86', 'qemu-system-data', 'seabios'];
/** Releases whose QEMU is older than this get the backport. */
const MIN_QEMU_MAJOR = 8;

/** Major version from `qemu-system-x86_64 --version` output. */
export function qemuMajor(versionText: string): number | undefined {
  const m = /QEMU emulator version (\d+)\./.exec(versionText);
  return m ? Number(m[1]) : undefined;
}

/** VERSION_CODENAME from /etc/os-release text. */
export function osCodename(osRelease: string): string | undefined {
  return /^VERSION_CODENAME="?([a-z]+)"?$/m.exec(osRelease)?.[1];
}

/** Whether this host should run the backported QEMU rather than its own. */
export function wantsBackport(systemMajor: number | undefined, codename: string | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.SCHEDVM_SANDBOX_QEMU === 'system') return false;
  return codename === 'bookworm' && systemMajor !== undefined && systemMajor < MIN_QEMU_MAJOR;
}

/** The QEMU to run: the cached backport when this host wants one (fetched on first use), else `systemQemu`. */
export async function sandboxQemu(systemQemu: string, log?: (msg: string) => void): Promise<SandboxQemu> {
  const system: SandboxQemu = { path: systemQemu, firmware: [], origin: 'system' };
  const override = process.env.SCHEDVM_SANDBOX_QEMU;
  if (override && override !== 'system' && override !== 'auto') return { path: override, firmware: [], origin: 'SCHEDVM_SANDBOX_QEMU' };
  const major = qemuMajor(execFileSync(systemQemu, ['--version'], { encoding: 'utf8' }));
  if (!wantsBackport(major, osCodename(readOrEmpty('/etc/os-release')))) return system;
  try {
    return await fetchBackportQemu(log);
  } catch (e) {
    process.stderr.write(`schedvm sandbox: using the system QEMU ${major}: the ${BACKPORTS_SUITE} one could not be fetched: ${(e as Error).message}\n`);
    return system;
  }
}

function backport(root: string): SandboxQemu {
  return {
    path: join(root, 'usr', 'bin', 'qemu-system-x86_64'),
    firmware: [join(root, 'usr', 'share', 'qemu'), join(root, 'usr', 'share', 'seabios')],
    origin: BACKPORTS_SUITE,
  };
}

/** Downloads and unpacks the backport into the cache once; later calls only look. */
export async function fetchBackportQemu(log?: (msg: string) => void): Promise<SandboxQemu> {
  const dir = cacheDir('qemu');
  const root = join(dir, 'root');
  const ready = join(dir, 'ready');
  if (existsSync(ready)) return backport(root);
  return withLock(join(dir, 'fetch.lock'), async () => {
    if (existsSync(ready)) return backport(root);
    // A fetch killed midway left its staging folder: nothing else writes here under the lock.
    for (const f of readdirSync(dir)) if (f.startsWith('staging-')) rmSync(join(dir, f), { recursive: true, force: true });
    const apt = new PrivateApt(join(dir, 'apt'), machineDebianSource(), BACKPORTS_SUITE);
    apt.setup();
    await apt.update();
    const debDir = join(dir, 'debs');
    rmSync(debDir, { recursive: true, force: true });
    log?.(`downloading ${PACKAGES.join(', ')} from ${BACKPORTS_SUITE}`);
    const debs = await apt.download(PACKAGES, debDir);
    const staging = mkdtempSync(join(dir, 'staging-'));
    try {
      for (const deb of debs) execFileSync('dpkg-deb', ['-x', deb, staging]);
      const missing = missingLibraries(backport(staging).path);
      if (missing.length) throw new UserError(`its libraries are not on this system: ${missing.join(', ')} (apt-get install qemu-system-x86 brings most)`);
      rmSync(root, { recursive: true, force: true });
      renameSync(staging, root);
    } catch (e) {
      rmSync(staging, { recursive: true, force: true });
      throw e;
    } finally {
      rmSync(debDir, { recursive: true, force: true });
    }
    writeFileSync(ready, `${debs.map((d) => d.split('/').at(-1)).join('\n')}\n`);
    return backport(root);
  });
}

/** Shared libraries `ldd` cannot resolve for `binary`. */
function missingLibraries(binary: string): string[] {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => l.includes('not found'))
    .map((l) => l.trim().split(' ')[0]!);
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

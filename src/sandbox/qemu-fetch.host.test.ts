// Fetches the backported QEMU the sandbox prefers on Debian 12 (network, once; cached after).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { findExecutable } from './host-tools.ts';
import { fetchBackportQemu, osCodename, qemuMajor, wantsBackport } from './qemu-fetch.ts';

const system = findExecutable('qemu-system-x86_64', ['/usr/bin']);
const wanted = system !== undefined && wantsBackport(qemuMajor(execFileSync(system, ['--version'], { encoding: 'utf8' })), osCodename(readFileSync('/etc/os-release', 'utf8')));
if (!wanted) process.stderr.write('qemu-fetch.host.test: this host keeps its own QEMU; the backport is not fetched here\n');

test.runIf(wanted)(
  'downloads QEMU 10 from bookworm-backports into the cache, runnable on this system',
  async () => {
    const qemu = await fetchBackportQemu();
    expect(qemu.origin).toBe('bookworm-backports');
    expect(qemuMajor(execFileSync(qemu.path, ['--version'], { encoding: 'utf8' }))).toBeGreaterThanOrEqual(10);
    for (const dir of qemu.firmware) expect(existsSync(dir), dir).toBe(true);
    expect(existsSync(`${qemu.firmware[1]}/bios-256k.bin`)).toBe(true);
    // Cached: the second call only looks.
    const t0 = performance.now();
    expect(await fetchBackportQemu()).toEqual(qemu);
    expect(performance.now() - t0).toBeLessThan(1000);
  },
  300_000,
);

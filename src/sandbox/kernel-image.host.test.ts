import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { bootableKernel } from './kernel-image.ts';

const dir = mkdtempSync(join(tmpdir(), 'schedvm-sandbox-kernel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bootableKernel', () => {
  const debian = existsSync('/boot') ? readdirSync('/boot').find((f) => /^vmlinuz-.*-amd64$/.test(f)) : undefined;
  test.skipIf(!debian)("boots this host's Debian kernel as its unpacked ELF, via PVH, from the kernel cache", async () => {
    const vmlinuz = `/boot/${debian}`;
    const kernel = await bootableKernel({ version: debian!.slice('vmlinuz-'.length), vmlinuz, modulesDir: '/lib/modules' }, dir);
    expect(kernel).toEqual({ path: expect.stringMatching(new RegExp(`^${dir}/.*\\.elf$`)), pvh: true });
    const unpacked = statSync(kernel.path).mtimeMs;
    expect(await bootableKernel({ version: debian!.slice('vmlinuz-'.length), vmlinuz, modulesDir: '/lib/modules' }, dir)).toEqual(kernel);
    expect(statSync(kernel.path).mtimeMs, 'the second start unpacks nothing').toBe(unpacked);
  });

  test('falls back to the image itself, saying why, when it cannot be unpacked', async () => {
    const vmlinuz = join(dir, 'not-a-bzimage');
    writeFileSync(vmlinuz, Buffer.alloc(4096));
    const kernel = await bootableKernel({ version: '0.0', vmlinuz, modulesDir: '/lib/modules' }, dir);
    expect(kernel).toMatchObject({ path: vmlinuz, pvh: false, note: expect.any(String) });
  });
});

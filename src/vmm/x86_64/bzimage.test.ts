import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, onTestFinished, test } from 'vitest';
import { MIN_BOOT_PROTOCOL, readBzImageHeader, readBzImageSetup, XLF_KERNEL_64 } from './bzimage.ts';

const hostImage = readdirSync('/boot').find((f) => f.startsWith('vmlinuz-'));

/** A minimal header that passes every check; tests then break one field each. */
function fakeHeader(): Buffer {
  const b = Buffer.alloc(8192);
  b.writeUInt8(4, 0x1f1);
  b.writeUInt16LE(0xaa55, 0x1fe);
  b.write('HdrS', 0x202, 'latin1');
  b.writeUInt16LE(0x020f, 0x206);
  b.writeUInt16LE(0x100, 0x20e);
  b.write('6.99.0-test (nobody@example) #1\0', 0x300, 'latin1');
  b.writeUInt8(1, 0x211);
  b.writeUInt32LE(0x200000, 0x230);
  b.writeUInt8(1, 0x234);
  b.writeUInt16LE(XLF_KERNEL_64, 0x236);
  b.writeUInt32LE(2047, 0x238);
  b.writeBigUInt64LE(0x1000000n, 0x258);
  b.writeUInt32LE(0x3000000, 0x260);
  return b;
}

describe('readBzImageHeader', () => {
  test.runIf(hostImage)("parses the host's Debian kernel", () => {
    const h = readBzImageHeader(readFileSync(`/boot/${hostImage}`));
    expect(h.version).toBeGreaterThanOrEqual(MIN_BOOT_PROTOCOL);
    expect(h.xloadflags & XLF_KERNEL_64).toBe(XLF_KERNEL_64);
    expect(h.relocatableKernel).toBe(true);
    expect(h.kernelAlignment).toBe(0x200000);
    expect(h.setupBytes).toBe((h.setupSects + 1) * 512);
    expect(h.initSize).toBeGreaterThan(0);
    expect(h.cmdlineSize).toBeGreaterThanOrEqual(255);
    expect(h.kernelVersion).toBe(hostImage!.slice('vmlinuz-'.length));
  });

  test('reads every field of a synthetic header', () => {
    expect(readBzImageHeader(fakeHeader())).toEqual({
      setupSects: 4,
      setupBytes: 2560,
      version: 0x020f,
      loadflags: 1,
      xloadflags: XLF_KERNEL_64,
      kernelAlignment: 0x200000,
      relocatableKernel: true,
      minAlignment: 0,
      prefAddress: 0x1000000n,
      initSize: 0x3000000,
      cmdlineSize: 2047,
      initrdAddrMax: 0,
      kernelVersion: '6.99.0-test',
    });
  });

  test('setup_sects 0 means 4', () => {
    const b = fakeHeader();
    b.writeUInt8(0, 0x1f1);
    expect(readBzImageHeader(b).setupSects).toBe(4);
  });

  test.each([
    ['garbage', () => Buffer.alloc(4096, 0x5a), /no 'HdrS' magic/],
    ['a short file', () => Buffer.from('hello'), /too short/],
    ['an ELF vmlinux', () => Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(4096)]), /ELF file/],
    ['protocol 2.11', () => withField((b) => b.writeUInt16LE(0x020b, 0x206)), /2\.11 is older than 2\.12/],
    ['no 64-bit entry', () => withField((b) => b.writeUInt16LE(0, 0x236)), /XLF_KERNEL_64/],
    ['a zImage', () => withField((b) => b.writeUInt8(0, 0x211)), /LOADED_HIGH/],
    ['a truncated image', () => fakeHeader().subarray(0, 1024), /inside its 2560-byte setup/],
  ])('rejects %s with a clear error', (_what, make, message) => {
    expect(() => readBzImageHeader(make(), 'img')).toThrow(message);
    expect(() => readBzImageHeader(make(), 'img')).toThrow(/^img is not a usable bzImage/);
  });
});

describe('readBzImageSetup', () => {
  const file = (bytes: Buffer) => {
    const dir = mkdtempSync(join(tmpdir(), 'schedvm-bzimage-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'vmlinuz'), bytes);
    return join(dir, 'vmlinuz');
  };

  test('reads the boot and setup sectors and one payload sector, not the payload', () => {
    const image = Buffer.concat([fakeHeader(), Buffer.alloc(1 << 20, 0xcc)]);
    image.writeUInt8(9, 0x1f1);
    const setup = readBzImageSetup(file(image));
    expect(setup.length).toBe(11 * 512);
    expect(setup.equals(image.subarray(0, 11 * 512))).toBe(true);
    expect(readBzImageHeader(setup)).toEqual(readBzImageHeader(image));
  });

  test('setup_sects 0 means 4 here too', () => {
    const image = Buffer.concat([fakeHeader(), Buffer.alloc(1 << 16)]);
    image.writeUInt8(0, 0x1f1);
    expect(readBzImageSetup(file(image)).length).toBe(6 * 512);
  });

  test('a short file comes back whole, for readBzImageHeader to reject', () => {
    const setup = readBzImageSetup(file(fakeHeader().subarray(0, 1024)));
    expect(setup.length).toBe(1024);
    expect(() => readBzImageHeader(setup, 'img')).toThrow(/inside its 2560-byte setup/);
  });

  test.runIf(hostImage)("gives the host kernel's header as the whole image does", () => {
    const path = `/boot/${hostImage}`;
    expect(readBzImageHeader(readBzImageSetup(path))).toEqual(readBzImageHeader(readFileSync(path)));
  });

  test('a missing file fails with ENOENT', () => {
    expect(() => readBzImageSetup('/nonexistent/vmlinuz')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });
});

function withField(edit: (b: Buffer) => void): Buffer {
  const b = fakeHeader();
  edit(b);
  return b;
}

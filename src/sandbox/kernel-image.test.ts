import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { hasPvhEntry, unpackBzImage } from './kernel-image.ts';

/** A bzImage shell: boot protocol 2.15 header with the payload after 2 setup sectors. */
function fakeBzImage(payload: Buffer): Buffer {
  const setupSects = 2;
  const image = Buffer.alloc((setupSects + 1) * 512 + 100 + payload.length + 50);
  image[0x1f1] = setupSects;
  image.write('HdrS', 0x202, 'latin1');
  image.writeUInt16LE(0x20f, 0x206);
  image.writeUInt32LE(100, 0x248); // payload_offset, from the protected-mode code
  image.writeUInt32LE(payload.length, 0x24c);
  payload.copy(image, (setupSects + 1) * 512 + 100);
  return image;
}

/** The kernel build appends the uncompressed size to xz and zstd payloads. */
function withSize(compressed: Buffer, size: number): Buffer {
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(size);
  return Buffer.concat([compressed, tail]);
}

/** A 64-bit ELF with one PT_NOTE segment holding the given (name, type) notes. */
function fakeElf(notes: [string, number][]): Buffer {
  const body = Buffer.concat(
    notes.map(([name, type]) => {
      const n = Buffer.from(`${name}\0`);
      const note = Buffer.alloc(12 + Math.ceil(n.length / 4) * 4 + 8);
      note.writeUInt32LE(n.length, 0);
      note.writeUInt32LE(8, 4);
      note.writeUInt32LE(type, 8);
      n.copy(note, 12);
      return note;
    }),
  );
  const elf = Buffer.alloc(64 + 56 + body.length);
  elf.writeUInt32BE(0x7f454c46, 0);
  elf[4] = 2;
  elf.writeBigUInt64LE(64n, 0x20); // e_phoff
  elf.writeUInt16LE(56, 0x36); // e_phentsize
  elf.writeUInt16LE(1, 0x38); // e_phnum
  elf.writeUInt32LE(4, 64); // PT_NOTE
  elf.writeBigUInt64LE(120n, 64 + 8); // p_offset
  elf.writeBigUInt64LE(BigInt(body.length), 64 + 32); // p_filesz
  body.copy(elf, 120);
  return elf;
}

describe('unpackBzImage', () => {
  const kernel = Buffer.from('\x7fELF pretend kernel '.repeat(100));

  test('unpacks a gzip payload', () => {
    expect(unpackBzImage(fakeBzImage(gzipSync(kernel))).equals(kernel)).toBe(true);
  });

  test('unpacks an xz payload followed by its size', () => {
    const xz = execFileSync('xz', ['-c', '--check=crc32'], { input: kernel });
    expect(unpackBzImage(fakeBzImage(withSize(xz, kernel.length))).equals(kernel)).toBe(true);
  });

  test('rejects what is not a bzImage', () => {
    expect(() => unpackBzImage(Buffer.alloc(4096))).toThrow(/bzImage/);
  });

  test.skipIf(!existsSync('/boot/vmlinuz-6.1.0-56-amd64'))("unpacks this host's Debian kernel to an ELF with a PVH entry", () => {
    expect(hasPvhEntry(unpackBzImage(readFileSync('/boot/vmlinuz-6.1.0-56-amd64')))).toBe(true);
  });
});

describe('hasPvhEntry', () => {
  test('finds the Xen PHYS32_ENTRY note among others', () => {
    expect(
      hasPvhEntry(
        fakeElf([
          ['GNU', 3],
          ['Xen', 6],
          ['Xen', 18],
        ]),
      ),
    ).toBe(true);
  });

  test('is false without it, or for non-ELF data', () => {
    expect(
      hasPvhEntry(
        fakeElf([
          ['Xen', 6],
          ['GNU', 18],
        ]),
      ),
    ).toBe(false);
    expect(hasPvhEntry(Buffer.alloc(128))).toBe(false);
  });
});

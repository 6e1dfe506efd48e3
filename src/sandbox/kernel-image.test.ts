import { describe, expect, test } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { unpackBzImage } from '../fixtures/kernels/unpack.ts';
import { hasPvhEntry } from './kernel-image.ts';

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

describe('a real kernel', () => {
  test.skipIf(!existsSync('/boot/vmlinuz-6.1.0-56-amd64'))("unpacks this host's Debian kernel to an ELF with a PVH entry", () => {
    expect(hasPvhEntry(unpackBzImage(readFileSync('/boot/vmlinuz-6.1.0-56-amd64')))).toBe(true);
  });
});

// Test helper: a minimal x86-64 kernel ELF, as the bzImage's unpacked payload is laid out.

/** An x86-64 ELF executable: PT_LOAD segments of [paddr, bytes, memsz], a PT_NOTE between them (holding `notes`, each [name, type]), entry as given. */
export function kernelElf(entry: number, loads: Array<[number, Buffer, number]>, notes: Array<[string, number]> = []): Buffer {
  const phnum = loads.length + 1;
  let offset = 64 + 56 * phnum;
  const head = Buffer.alloc(offset);
  head.writeUInt32BE(0x7f454c46, 0);
  head[4] = 2;
  head[5] = 1;
  head.writeUInt16LE(2, 0x10); // ET_EXEC
  head.writeUInt16LE(62, 0x12); // EM_X86_64
  head.writeBigUInt64LE(BigInt(entry), 0x18);
  head.writeBigUInt64LE(64n, 0x20);
  head.writeUInt16LE(56, 0x36);
  head.writeUInt16LE(phnum, 0x38);
  const ph = (i: number) => 64 + 56 * i;
  const noteBytes = Buffer.concat(notes.map(([name, type]) => note(name, type)));
  head.writeUInt32LE(4, ph(1)); // PT_NOTE, after the segments' bytes
  head.writeBigUInt64LE(BigInt(offset + loads.reduce((n, [, b]) => n + b.length, 0)), ph(1) + 8);
  head.writeBigUInt64LE(BigInt(noteBytes.length), ph(1) + 32);
  loads.forEach(([paddr, bytes, memsz], k) => {
    const at = ph(k === 0 ? 0 : k + 1);
    head.writeUInt32LE(1, at);
    head.writeBigUInt64LE(BigInt(offset), at + 8);
    head.writeBigUInt64LE(BigInt(paddr) | 0xffffffff80000000n, at + 16); // a kernel's vaddr
    head.writeBigUInt64LE(BigInt(paddr), at + 24);
    head.writeBigUInt64LE(BigInt(bytes.length), at + 32);
    head.writeBigUInt64LE(BigInt(memsz), at + 40);
    offset += bytes.length;
  });
  return Buffer.concat([head, ...loads.map(([, b]) => b), noteBytes]);
}

/** One ELF note: namesz, descsz, type, the name (NUL-ended) and an 8-byte desc, each 4-aligned. */
function note(name: string, type: number): Buffer {
  const n = Buffer.from(`${name}\0`);
  const out = Buffer.alloc(12 + Math.ceil(n.length / 4) * 4 + 8);
  out.writeUInt32LE(n.length, 0);
  out.writeUInt32LE(8, 4);
  out.writeUInt32LE(type, 8);
  n.copy(out, 12);
  return out;
}

import { describe, expect, it } from 'vitest';
import { imageReader, KernelSymbols, parseVmcoreinfo, vmcoreinfoNoteText } from './kallsyms.ts';

// A small kernel image: kallsyms tables encoded the way scripts/kallsyms.c lays them out.
const TEXT = 0xffffffff9a000000n; // _text under some KASLR slide
const SYMS: Array<[string, bigint]> = [
  ['T_text', 0n],
  ['T_stext', 0x1000n],
  ['t__pfx_do_idle', 0x2000n],
  ['Tdo_idle', 0x2010n],
  ['tcpu_startup_entry', 0x2400n],
  ['T_etext', 0x9000n],
  ['D' + 'system_state', 0xa000n],
  ['T_sinittext', 0xc000n],
  ['Tstart_kernel', 0xc100n],
  ['T_einittext', 0xd000n],
];

type Encoding = 'text-relative' | 'base-relative' | 'absolute-percpu' | 'place-relative';

function image(encoding: Encoding) {
  // Tokens: 0x00..0x7f stand for themselves (ASCII), 0x80 for "do_", 0x81 for "text".
  const tokens = Array.from({ length: 256 }, (_, i) => (i < 0x80 ? String.fromCharCode(i) : i === 0x80 ? 'do_' : i === 0x81 ? 'text' : '?'));
  const tokenTable = Buffer.from(tokens.map((t) => `${t}\0`).join(''), 'latin1');
  const tokenIndex = Buffer.alloc(512);
  let at = 0;
  tokens.forEach((t, i) => {
    tokenIndex.writeUInt16LE(at, i * 2);
    at += t.length + 1;
  });
  const encodeName = (s: string) => {
    const out: number[] = [];
    for (let i = 0; i < s.length; ) {
      const token = s.startsWith('do_', i) ? [0x80, 3] : s.startsWith('text', i) ? [0x81, 4] : [s.charCodeAt(i), 1];
      out.push(token[0]!);
      i += token[1]!;
    }
    return out;
  };
  const names = Buffer.from(
    SYMS.flatMap(([n]) => {
      const enc = encodeName(n);
      return [enc.length, ...enc];
    }),
  );
  const relativeBase = TEXT;
  const offsets = Buffer.alloc(SYMS.length * 4);
  const OFFSETS_VA = 0xffffffff9b400000n; // where the layout below puts kallsyms_offsets
  SYMS.forEach(([, o], i) => {
    if (encoding === 'absolute-percpu')
      offsets.writeInt32LE(Number(-o - 1n), i * 4); // relative_base - 1 - off
    else if (encoding === 'place-relative') offsets.writeInt32LE(Number(TEXT + o - (OFFSETS_VA + BigInt(i * 4))), i * 4);
    else offsets.writeUInt32LE(Number(o), i * 4);
  });
  const blobs: Record<string, Buffer> = {
    kallsyms_num_syms: Buffer.from(new Uint32Array([SYMS.length]).buffer),
    kallsyms_token_table: tokenTable,
    kallsyms_token_index: tokenIndex,
    kallsyms_names: names,
    kallsyms_offsets: offsets,
    kallsyms_relative_base: Buffer.from(new BigUint64Array([relativeBase]).buffer),
  };
  const where = new Map<string, bigint>();
  let va = 0xffffffff9b000000n;
  const mem = new Map<bigint, Buffer>();
  for (const [name, b] of Object.entries(blobs)) {
    where.set(name, va);
    mem.set(va, b);
    va += 0x100000n;
  }
  const info = new Map<string, string>();
  expect(where.get('kallsyms_offsets')).toBe(OFFSETS_VA);
  const hasBase = encoding === 'base-relative' || encoding === 'absolute-percpu';
  for (const [name, v] of where) if (name !== 'kallsyms_relative_base' || hasBase) info.set(`SYMBOL(${name})`, v.toString(16));
  info.set('SYMBOL(_stext)', (TEXT + 0x1000n).toString(16));
  info.set('SYMBOL(system_state)', (TEXT + 0xa000n).toString(16));
  info.set('SYMBOL(do_idle)', 'ffff8a7b7fecdf80'); // a pointer's value, as VMCOREINFO gives mem_section: not an anchor
  const read = (addr: bigint, len: number) => {
    for (const [base, b] of mem) {
      if (addr >= base && addr < base + 0x100000n) {
        const out = new Uint8Array(len); // past a blob: zeros, like the rest of an image
        out.set(b.subarray(Number(addr - base), Number(addr - base) + len));
        return out;
      }
    }
    throw new Error(`read outside the image at 0x${addr.toString(16)}`);
  };
  return { info, read };
}

describe('kallsyms decoding', () => {
  for (const encoding of ['text-relative', 'base-relative', 'absolute-percpu', 'place-relative'] as const) {
    it(`symbolizes text addresses (${encoding} offsets)`, () => {
      const { info, read } = image(encoding);
      const syms = KernelSymbols.decode(info, read);
      expect(syms.size).toBe(SYMS.length);
      expect(syms.address('do_idle')).toBe(TEXT + 0x2010n);
      expect(syms.symbolize(TEXT + 0x2010n + 0x37n)).toBe('do_idle+0x37');
      expect(syms.symbolize(TEXT + 0x2400n)).toBe('cpu_startup_entry+0x0');
      expect(syms.symbolize(TEXT + 0xc180n)).toBe('start_kernel+0x80');
    });
  }

  it('symbolizes nothing outside the kernel text, nor data', () => {
    const { info, read } = image('text-relative');
    const syms = KernelSymbols.decode(info, read);
    expect(syms.symbolize(TEXT + 0xa008n)).toBeUndefined(); // system_state is data
    expect(syms.symbolize(0x401000n)).toBeUndefined(); // user space
    expect(syms.symbolize(TEXT + 0x9000n)).toBeUndefined(); // _etext itself is past the end
  });

  it('says what is missing from VMCOREINFO', () => {
    const { info, read } = image('text-relative');
    info.delete('SYMBOL(kallsyms_names)');
    expect(() => KernelSymbols.decode(info, read)).toThrow(/VMCOREINFO has no SYMBOL\(kallsyms_names\)/);
  });

  it('refuses a table whose _stext is not where VMCOREINFO says', () => {
    const { info, read } = image('base-relative');
    info.set('SYMBOL(_stext)', (TEXT + 0x1234n).toString(16));
    expect(() => KernelSymbols.decode(info, read)).toThrow(/no known address encoding/);
  });
});

describe('VMCOREINFO note', () => {
  it('reads the text after the note header, and its KEY=VALUE lines', () => {
    const text = 'OSRELEASE=7.2.13\nSYMBOL(_stext)=ffffffff81000000\nNUMBER(phys_base)=16777216\n';
    const name = Buffer.from('VMCOREINFO\0\0', 'latin1'); // 11 bytes, padded to 12
    const head = Buffer.alloc(12);
    head.writeUInt32LE(11, 0);
    head.writeUInt32LE(text.length, 4);
    const note = Buffer.concat([head, name, Buffer.from(text), Buffer.alloc(16)]);
    const info = parseVmcoreinfo(vmcoreinfoNoteText(note));
    expect(info.get('SYMBOL(_stext)')).toBe('ffffffff81000000');
    expect(info.get('NUMBER(phys_base)')).toBe('16777216');
    expect(() => vmcoreinfoNoteText(Buffer.alloc(64))).toThrow(/unexpected header/);
  });
});

describe('imageReader', () => {
  const ram = new Uint8Array(0x3000).map((_, i) => i & 0xff);
  const read = imageReader((pa, len) => ram.slice(pa, pa + len), 0x1000n);

  it('maps the kernel image address to guest-physical through phys_base', () => {
    expect([...read(0xffffffff80000010n, 2)]).toEqual([0x10, 0x11]); // pa 0x1010
  });

  it('refuses addresses outside the image mapping, naming them', () => {
    expect(() => read(0xffff888000000000n, 4)).toThrow(/0xffff888000000000 is outside the kernel image mapping/);
    expect(() => read(0xffffffffc0000000n, 4)).toThrow(/outside the kernel image mapping/); // modules
  });
});

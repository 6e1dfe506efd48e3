// The Linux guest's own symbol table, read from its memory: /sys/kernel/vmcoreinfo gives the
// physical address of the VMCOREINFO note, which names the kallsyms tables (their KASLR
// addresses) and phys_base; the tables are decoded here the way kernel/kallsyms.c reads them.
// No System.map is needed (Debian ships only a placeholder outside its -dbg package).
import { toGuestPhys, type GuestPhysAddr, type GuestVirtAddr } from '../vmm/guest-address.ts';

/** x86_64's __START_KERNEL_map: the kernel image is mapped at this + (pa - phys_base). */
const START_KERNEL_MAP = 0xffffffff80000000n;
const TEXT_TYPES = new Set(['t', 'T', 'w', 'W']);

/** KEY=VALUE lines of a VMCOREINFO note's text. */
export function parseVmcoreinfo(text: string): Map<string, string> {
  const info = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) info.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  return info;
}

/** The text of the ELF note at the start of `note` (namesz, descsz, type, name, then the text). */
export function vmcoreinfoNoteText(note: Uint8Array): string {
  const dv = new DataView(note.buffer, note.byteOffset, note.byteLength);
  if (note.length < 12) throw new Error('VMCOREINFO note: shorter than its header');
  const namesz = dv.getUint32(0, true);
  const descsz = dv.getUint32(4, true);
  const descAt = 12 + ((namesz + 3) & ~3);
  const name = Buffer.from(note.subarray(12, 12 + namesz))
    .toString('latin1')
    .replace(/\0+$/, '');
  if (name !== 'VMCOREINFO' || descAt + descsz > note.length) throw new Error(`VMCOREINFO note: unexpected header (name '${name}', ${descsz} bytes)`);
  return Buffer.from(note.subarray(descAt, descAt + descsz)).toString('latin1');
}

/** Reads `len` bytes of guest-virtual kernel-image memory. */
export type KernelReader = (va: GuestVirtAddr, len: number) => Uint8Array;

/** A reader for kernel-image addresses through the fixed image mapping (no page walk). */
export function imageReader(readPhysical: (pa: GuestPhysAddr, len: number) => Uint8Array, physBase: bigint): KernelReader {
  return (va, len) => {
    // The image mapping spans at most 1 GiB (KERNEL_IMAGE_SIZE); modules and the heap need a page walk.
    if (va < START_KERNEL_MAP || va + BigInt(len) > START_KERNEL_MAP + 0x40000000n) {
      throw new Error(`0x${va.toString(16)} is outside the kernel image mapping (module or heap memory is not readable by symbol)`);
    }
    return readPhysical(toGuestPhys(va - START_KERNEL_MAP + physBase), len);
  };
}

export class KernelSymbols {
  /**
   * Addresses are kept as plain numbers relative to `base` (exact: a kernel image spans far
   * less than 2^53), ascending: BigInt work on ~200k symbols is slow inside the sandbox.
   */
  private constructor(
    private readonly base: bigint,
    private readonly rels: Float64Array,
    private readonly names: string[],
    private readonly types: string,
    private readonly textRanges: Array<[number, number]>,
  ) {}

  get size(): number {
    return this.names.length;
  }

  /** The address of `name` (the first symbol of that name), if the kernel has it. */
  address(name: string): GuestVirtAddr | undefined {
    const i = this.names.indexOf(name);
    return i < 0 ? undefined : this.base + BigInt(this.rels[i]!);
  }

  /** `func+0x37` for an address inside the kernel's text, else undefined. */
  symbolize(addr: GuestVirtAddr): string | undefined {
    const d = addr - this.base;
    if (d < -(2n ** 52n) || d > 2n ** 52n) return undefined;
    const r = Number(d);
    if (!this.textRanges.some(([lo, hi]) => r >= lo && r < hi)) return undefined;
    const rels = this.rels;
    let lo = 0;
    let hi = rels.length - 1;
    if (hi < 0 || r < rels[0]!) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (rels[mid]! <= r) lo = mid;
      else hi = mid - 1;
    }
    // Among symbols at one address prefer a function over __pfx_ padding or a label.
    let best = lo;
    for (let i = lo; i >= 0 && rels[i] === rels[lo]; i--) {
      if (TEXT_TYPES.has(this.types[i]!) && !this.names[i]!.startsWith('__pfx_')) best = i;
    }
    if (!TEXT_TYPES.has(this.types[best]!)) return undefined;
    return `${this.names[best]}+0x${(r - rels[best]!).toString(16)}`;
  }

  /**
   * Decodes kallsyms from a running (or frozen) guest kernel. `info` is its VMCOREINFO; the
   * address formula is the one that puts every symbol VMCOREINFO also names where VMCOREINFO
   * has it (it changed across kernel versions: absolute-percpu, base-relative, _text- and
   * place-relative).
   */
  static decode(info: Map<string, string>, read: KernelReader): KernelSymbols {
    const sym = (name: string): bigint => {
      const v = info.get(`SYMBOL(${name})`);
      if (v === undefined) throw new Error(`VMCOREINFO has no SYMBOL(${name}) (a kernel without CONFIG_KALLSYMS, or older than 6.4)`);
      return BigInt(`0x${v}`);
    };
    const count = new DataView(read(sym('kallsyms_num_syms'), 4).buffer).getUint32(0, true) >>> 0;
    if (count === 0 || count > 4_000_000) throw new Error(`kallsyms_num_syms is ${count}: not a kallsyms table`);
    const tokenIndexBytes = read(sym('kallsyms_token_index'), 512);
    const tokenIndex = new DataView(tokenIndexBytes.buffer, tokenIndexBytes.byteOffset, 512);
    const lastToken = tokenIndex.getUint16(255 * 2, true);
    const tokenTable = read(sym('kallsyms_token_table'), lastToken + 256);
    const tokens: string[] = [];
    for (let t = 0; t < 256; t++) {
      const at = tokenIndex.getUint16(t * 2, true);
      const end = tokenTable.indexOf(0, at);
      tokens.push(Buffer.from(tokenTable.subarray(at, end < 0 ? undefined : end)).toString('latin1'));
    }

    // Names: a length (one byte, or two with the top bit of the first set), then token indices.
    // Read in chunks: the table's size is only known by walking it.
    const namesVa = sym('kallsyms_names');
    let chunk: Uint8Array = new Uint8Array(0);
    let chunkAt = 0;
    const byteAt = (off: number): number => {
      if (off - chunkAt >= chunk.length) {
        chunkAt = off;
        chunk = read(namesVa + BigInt(off), 1 << 16);
      }
      return chunk[off - chunkAt]!;
    };
    const names: string[] = new Array(count);
    let types = '';
    let off = 0;
    for (let i = 0; i < count; i++) {
      let len = byteAt(off++);
      if (len & 0x80) len = (len & 0x7f) | (byteAt(off++) << 7);
      let s = '';
      for (let k = 0; k < len; k++) s += tokens[byteAt(off++)]!;
      types += s[0] ?? '?';
      names[i] = s.slice(1);
    }

    const offsetsBytes = read(sym('kallsyms_offsets'), count * 4);
    const offsets = new DataView(offsetsBytes.buffer, offsetsBytes.byteOffset, count * 4);
    // Anchors: every VMCOREINFO symbol kallsyms also lists (_stext, init_top_pgt, ...). A name
    // can be there twice (static symbols of different files): any of its entries may match.
    const wanted = new Map<string, bigint>();
    for (const [k, v] of info) {
      const m = /^SYMBOL\((\w+)\)$/.exec(k);
      // Only image addresses: some entries hold a pointer's value (mem_section: a direct-map address).
      const va = m ? BigInt(`0x${v}`) : 0n;
      if (m && va >= START_KERNEL_MAP) wanted.set(m[1]!, va);
    }
    const anchors: Array<{ name: string; at: number[]; va: bigint }> = [];
    names.forEach((n, i) => {
      const va = wanted.get(n);
      if (va === undefined) return;
      const a = anchors.find((x) => x.name === n);
      if (a) a.at.push(i);
      else anchors.push({ name: n, at: [i], va });
    });
    const stextAt = names.indexOf('_stext');
    if (stextAt < 0) throw new Error('kallsyms has no _stext');
    // Each encoding: a base, and every symbol's distance from it (a number).
    const candidates: Array<{ base: bigint; rel: (i: number) => number }> = [];
    const base = info.get('SYMBOL(kallsyms_relative_base)');
    if (base !== undefined) {
      const relativeBase = new DataView(read(BigInt(`0x${base}`), 8).buffer).getBigUint64(0, true);
      candidates.push({ base: relativeBase, rel: (i) => offsets.getUint32(i * 4, true) });
      candidates.push({
        base: relativeBase,
        rel: (i) => {
          const o = offsets.getInt32(i * 4, true);
          return o >= 0 ? Number(BigInt(o) - relativeBase) : -1 - o; // o >= 0: absolute per-cpu offsets
        },
      });
    }
    // Place-relative (6.15+ on 64-bit): each entry holds its symbol's distance from itself.
    candidates.push({ base: sym('kallsyms_offsets'), rel: (i) => i * 4 + offsets.getInt32(i * 4, true) });
    // Relative to _text, which has no base symbol of its own: place _stext, check the rest.
    candidates.push({ base: sym('_stext') - BigInt(offsets.getInt32(stextAt * 4, true)), rel: (i) => offsets.getInt32(i * 4, true) });
    const matched = (c: (typeof candidates)[number]) => anchors.filter((a) => a.at.some((i) => c.base + BigInt(c.rel(i)) === a.va));
    const chosen = candidates.find((c) => matched(c).length === anchors.length);
    if (!chosen) {
      const tried = candidates
        .map(
          (c) =>
            `${
              matched(c)
                .map((a) => a.name)
                .join('/') || 'none'
            }`,
        )
        .join('; ');
      const want = anchors.map((a) => `${a.name}=0x${a.va.toString(16)}@${a.at.join('|')}`).join(', ');
      throw new Error(`kallsyms: no known address encoding puts its symbols where VMCOREINFO has them (anchors ${want}; matched per encoding: ${tried})`);
    }

    const rels = new Float64Array(count);
    for (let i = 0; i < count; i++) rels[i] = chosen.rel(i);
    const order = Uint32Array.from({ length: count }, (_, i) => i).sort((a, b) => rels[a]! - rels[b]! || a - b);
    const at = (n: string) => {
      const i = names.indexOf(n);
      return i < 0 ? undefined : rels[i]!;
    };
    const ranges: Array<[number, number]> = [];
    for (const [from, to] of [
      ['_stext', '_etext'],
      ['_sinittext', '_einittext'],
    ] as const) {
      const lo = at(from);
      const hi = at(to);
      if (lo !== undefined && hi !== undefined && lo < hi) ranges.push([lo, hi]);
    }
    const sortedNames = new Array<string>(count);
    const sortedRels = new Float64Array(count);
    let sortedTypes = '';
    order.forEach((i, k) => {
      sortedNames[k] = names[i]!;
      sortedRels[k] = rels[i]!;
      sortedTypes += types[i]!;
    });
    return new KernelSymbols(chosen.base, sortedRels, sortedNames, sortedTypes, ranges);
  }
}

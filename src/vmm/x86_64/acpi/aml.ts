// A tiny AML encoder (ACPI 6.5 §20.2): just the terms our DSDT needs. Every function returns the
// encoded bytes of one term, so terms nest by concatenation.
import { VmmError } from '../../errors.ts';
import type { GuestPhysAddr } from '../../guest-address.ts';

export type Aml = Uint8Array;

const ZERO_OP = 0x00;
const ONE_OP = 0x01;
const NAME_OP = 0x08;
const BYTE_PREFIX = 0x0a;
const WORD_PREFIX = 0x0b;
const DWORD_PREFIX = 0x0c;
const STRING_PREFIX = 0x0d;
const QWORD_PREFIX = 0x0e;
const SCOPE_OP = 0x10;
const BUFFER_OP = 0x11;
const PACKAGE_OP = 0x12;
const EXT_OP_PREFIX = 0x5b;
const DEVICE_OP = 0x82;
const DUAL_NAME_PREFIX = 0x2e;
const MULTI_NAME_PREFIX = 0x2f;
const ROOT_CHAR = 0x5c;
const PARENT_PREFIX_CHAR = 0x5e;

export function concat(...parts: ArrayLike<number>[]): Aml {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** PkgLength for `contentLength` bytes that follow it; the encoded length counts itself. */
export function pkgLength(contentLength: number): Aml {
  if (contentLength + 1 < 0x40) return Uint8Array.of(contentLength + 1);
  for (let extra = 1; extra <= 3; extra++) {
    const total = contentLength + 1 + extra;
    if (total < 2 ** (4 + 8 * extra)) {
      const out = [(extra << 6) | (total & 0xf)];
      for (let i = 0; i < extra; i++) out.push((total >>> (4 + 8 * i)) & 0xff);
      return Uint8Array.from(out);
    }
  }
  throw new RangeError(`AML package of ${contentLength} bytes is too long`);
}

function withPkgLength(prefix: number[], ...body: ArrayLike<number>[]): Aml {
  const content = concat(...body);
  return concat(prefix, pkgLength(content.length), content);
}

/** NameSeg: 4 characters, lead [A-Z_], rest [A-Z0-9_], short names padded with '_'. */
export function nameSeg(seg: string): Aml {
  if (!/^[A-Z_][A-Z0-9_]{0,3}$/.test(seg)) throw new VmmError('VMM_ACPI', `invalid AML name segment '${seg}'`);
  return Uint8Array.from(seg.padEnd(4, '_'), (c) => c.charCodeAt(0));
}

/** NameString: optional '\' or '^' prefixes, then dot-separated segments (`\_SB.VR00`). */
export function nameString(path: string): Aml {
  const prefix: number[] = [];
  let rest = path;
  if (rest.startsWith('\\')) {
    prefix.push(ROOT_CHAR);
    rest = rest.slice(1);
  }
  while (rest.startsWith('^')) {
    prefix.push(PARENT_PREFIX_CHAR);
    rest = rest.slice(1);
  }
  const segs = rest === '' ? [] : rest.split('.').map(nameSeg);
  if (segs.length === 0) return concat(prefix, [0x00]); // NullName
  if (segs.length === 1) return concat(prefix, segs[0]!);
  if (segs.length === 2) return concat(prefix, [DUAL_NAME_PREFIX], ...segs);
  return concat(prefix, [MULTI_NAME_PREFIX, segs.length], ...segs);
}

/** The shortest encoding of an unsigned integer (Zero/One/Byte/Word/DWord/QWord). */
export function integer(value: number | bigint): Aml {
  const v = BigInt(value);
  if (v < 0n || v > 0xffff_ffff_ffff_ffffn) throw new RangeError(`AML integer out of range: ${value}`);
  if (v === 0n) return Uint8Array.of(ZERO_OP);
  if (v === 1n) return Uint8Array.of(ONE_OP);
  const le = (n: number) => Array.from({ length: n }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn));
  if (v <= 0xffn) return Uint8Array.from([BYTE_PREFIX, ...le(1)]);
  if (v <= 0xffffn) return Uint8Array.from([WORD_PREFIX, ...le(2)]);
  if (v <= 0xffff_ffffn) return Uint8Array.from([DWORD_PREFIX, ...le(4)]);
  return Uint8Array.from([QWORD_PREFIX, ...le(8)]);
}

export function string(s: string): Aml {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: AML strings may hold any ASCII but NUL
  if (!/^[\x01-\x7f]*$/.test(s)) throw new VmmError('VMM_ACPI', `AML strings are ASCII without NUL: ${JSON.stringify(s)}`);
  return concat(
    [STRING_PREFIX],
    Uint8Array.from(s, (c) => c.charCodeAt(0)),
    [0x00],
  );
}

export function buffer(bytes: ArrayLike<number>): Aml {
  return withPkgLength([BUFFER_OP], integer(bytes.length), bytes);
}

export function pkg(...elements: Aml[]): Aml {
  if (elements.length > 0xff) throw new RangeError('AML Package holds at most 255 elements');
  return withPkgLength([PACKAGE_OP], [elements.length], ...elements);
}

export function name(path: string, value: Aml): Aml {
  return concat([NAME_OP], nameString(path), value);
}

export function scope(path: string, ...terms: Aml[]): Aml {
  return withPkgLength([SCOPE_OP], nameString(path), ...terms);
}

export function device(path: string, ...terms: Aml[]): Aml {
  return withPkgLength([EXT_OP_PREFIX, DEVICE_OP], nameString(path), ...terms);
}

// Resource descriptors (§6.4) ------------------------------------------------------------------

const END_TAG = 0x79; // small item 0xF, length 1
const MEMORY32_FIXED = 0x86;
const EXTENDED_INTERRUPT = 0x89;

/** Memory32Fixed (ReadWrite|ReadOnly, base, length). */
export function memory32Fixed(base: GuestPhysAddr, length: number, writable = true): Aml {
  const b = new Uint8Array(12);
  const v = new DataView(b.buffer);
  b[0] = MEMORY32_FIXED;
  v.setUint16(1, 9, true);
  b[3] = writable ? 1 : 0;
  v.setUint32(4, base >>> 0, true);
  v.setUint32(8, length >>> 0, true);
  return b;
}

export interface InterruptOptions {
  /** Edge (true) or level (false) triggered. */
  edge: boolean;
  activeLow?: boolean;
  shared?: boolean;
  /** ResourceConsumer (default) or ResourceProducer. */
  producer?: boolean;
}

/** Interrupt (ResourceConsumer, Edge|Level, ActiveHigh|ActiveLow, Exclusive|Shared) {gsi...}. */
export function interrupt(gsis: number[], o: InterruptOptions): Aml {
  if (gsis.length < 1 || gsis.length > 0xff) throw new RangeError('Interrupt() lists 1..255 interrupts');
  const b = new Uint8Array(5 + 4 * gsis.length);
  const v = new DataView(b.buffer);
  b[0] = EXTENDED_INTERRUPT;
  v.setUint16(1, 2 + 4 * gsis.length, true);
  b[3] = (o.producer ? 0 : 1) | (o.edge ? 2 : 0) | (o.activeLow ? 4 : 0) | (o.shared ? 8 : 0);
  b[4] = gsis.length;
  gsis.forEach((g, i) => {
    v.setUint32(5 + 4 * i, g >>> 0, true);
  });
  return b;
}

/** ResourceTemplate () {...}: a Buffer of descriptors closed by an EndTag whose checksum makes
 * the descriptor bytes sum to zero. */
export function resourceTemplate(...descriptors: Aml[]): Aml {
  const body = concat(...descriptors, [END_TAG, 0]);
  let sum = 0;
  for (const x of body) sum = (sum + x) & 0xff;
  body[body.length - 1] = (0x100 - sum) & 0xff;
  return buffer(body);
}

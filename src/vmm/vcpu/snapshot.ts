// A vCPU's registers captured at freeze time. Values are u64 as bigint: kernel
// addresses exceed 2^53. x86: rip, rsp, cr3. arm64: PC, SP_EL1, TTBR1_EL1, TTBR0_EL1, TCR_EL1.
import type { GuestVirtAddr } from '../guest-address.ts';

export interface VcpuRegSnapshot {
  instruction_pointer: GuestVirtAddr;
  stack_pointer: GuestVirtAddr;
  page_table_root: bigint;
  user_page_table_root?: bigint;
  tcr_el1?: bigint;
}

/** The same snapshot with every value a `0x`-prefixed 16-digit hex string: safe inside JSON.stringify. */
export type VcpuRegSnapshotHex = { [K in keyof VcpuRegSnapshot]: string };

const REQUIRED = ['instruction_pointer', 'stack_pointer', 'page_table_root'] as const;
const OPTIONAL = ['user_page_table_root', 'tcr_el1'] as const;
const FIELDS = [...REQUIRED, ...OPTIONAL] as const;
type Field = (typeof FIELDS)[number];
const U64_MAX = (1n << 64n) - 1n;
const isRequired = (f: Field) => (REQUIRED as readonly Field[]).includes(f);

const hex = (v: bigint) => `0x${v.toString(16).padStart(16, '0')}`;

export function formatSnapshot(s: VcpuRegSnapshot): string {
  const text = `ip=${hex(s.instruction_pointer)} sp=${hex(s.stack_pointer)} ptroot=${hex(s.page_table_root)}`;
  return s.user_page_table_root === undefined ? text : `${text} uptroot=${hex(s.user_page_table_root)}`;
}

function checkU64(field: Field, v: unknown): bigint {
  if (typeof v !== 'bigint' || v < 0n || v > U64_MAX) throw new TypeError(`snapshot field ${field}: expected a u64 bigint, got ${String(v)}`);
  return v;
}

/** Compact JSON as serde_json writes it: declaration order, bare integers, absent optionals left out. */
export function snapshotToJson(s: VcpuRegSnapshot): string {
  const parts: string[] = [];
  for (const f of FIELDS) {
    if (s[f] === undefined && !isRequired(f)) continue;
    parts.push(`"${f}":${checkU64(f, s[f])}`);
  }
  return `{${parts.join(',')}}`;
}

// Every number token outside a string, quoted so JSON.parse keeps its digits. A scan that
// takes strings whole stays in step on valid JSON, and the text is validated first.
const TOKEN = /"(?:[^"\\]|\\.)*"|-?\d[\d.eE+-]*/g;
const quoteNumbers = (text: string) => text.replace(TOKEN, (t) => (t.startsWith('"') ? t : `"${t}"`));

/**
 * Parses snapshotToJson's output, or any JSON object with those fields (serde's rules:
 * unknown keys ignored, optionals missing or null are absent). Integers keep all 64 bits.
 */
export function snapshotFromJson(text: string): VcpuRegSnapshot {
  let typed: unknown;
  try {
    typed = JSON.parse(text);
  } catch (err) {
    throw new SyntaxError(`snapshot JSON: ${(err as Error).message}`);
  }
  if (typeof typed !== 'object' || typed === null || Array.isArray(typed)) throw new TypeError('snapshot JSON: expected an object');
  // Parsed twice: `typed` says which values were numbers (a string can't pose as one),
  // `digits` holds their source text.
  const digits = JSON.parse(quoteNumbers(text)) as Record<string, unknown>;
  const types = typed as Record<string, unknown>;
  const field = (f: Field): bigint | undefined => {
    const v = Object.hasOwn(types, f) ? types[f] : undefined;
    if (v === undefined || v === null) {
      if (isRequired(f)) throw new TypeError(`snapshot JSON: missing field ${f}`);
      return undefined;
    }
    const src = digits[f];
    if (typeof v !== 'number' || typeof src !== 'string' || !/^\d+$/.test(src) || BigInt(src) > U64_MAX) {
      throw new TypeError(`snapshot JSON: field ${f} must be an integer in 0..2^64-1, got ${typeof v === 'number' ? String(src) : JSON.stringify(v)}`);
    }
    return BigInt(src);
  };
  return withOptionals(field);
}

function withOptionals(get: (f: Field) => bigint | undefined): VcpuRegSnapshot {
  const s: VcpuRegSnapshot = {
    instruction_pointer: get('instruction_pointer')!,
    stack_pointer: get('stack_pointer')!,
    page_table_root: get('page_table_root')!,
  };
  for (const f of OPTIONAL) {
    const v = get(f);
    if (v !== undefined) s[f] = v;
  }
  return s;
}

/** Hex-string form for embedding in larger JSON results; absent optionals are left out. */
export function snapshotToHex(s: VcpuRegSnapshot): VcpuRegSnapshotHex {
  const out: Partial<Record<Field, string>> = {};
  for (const f of FIELDS) if (s[f] !== undefined || isRequired(f)) out[f] = hex(checkU64(f, s[f]));
  return out as VcpuRegSnapshotHex;
}

export function snapshotFromHex(h: Partial<Record<Field, unknown>>): VcpuRegSnapshot {
  return withOptionals((f) => {
    const v = h[f];
    if (v === undefined || v === null) {
      if (isRequired(f)) throw new TypeError(`snapshot: missing field ${f}`);
      return undefined;
    }
    if (typeof v !== 'string' || !/^0x[0-9a-fA-F]{1,16}$/.test(v)) throw new TypeError(`snapshot: field ${f} must be a 0x hex u64, got ${JSON.stringify(v)}`);
    return BigInt(v);
  });
}

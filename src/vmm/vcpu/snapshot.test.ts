import { describe, expect, it } from 'vitest';
import { formatSnapshot, snapshotFromHex, snapshotFromJson, snapshotToHex, snapshotToJson, type VcpuRegSnapshot } from './snapshot.ts';

const kernel: VcpuRegSnapshot = {
  instruction_pointer: 0xffff_ffff_8100_1234n,
  stack_pointer: 0xffff_ffff_8000_0000n,
  page_table_root: 0x0123_4567_89ab_cdefn,
};
const arm: VcpuRegSnapshot = {
  instruction_pointer: 0xffff_8000_8100_1234n,
  stack_pointer: 0xffff_8000_8000_0000n,
  page_table_root: 0x0000_4000_8000_0000n,
  user_page_table_root: 0xdead_beef_cafe_d00dn,
  tcr_el1: 0xb510_0010n,
};

describe('formatSnapshot', () => {
  it('renders three 16-digit hex fields', () => {
    expect(formatSnapshot(kernel)).toBe('ip=0xffffffff81001234 sp=0xffffffff80000000 ptroot=0x0123456789abcdef');
  });

  it('appends uptroot when present and never shows tcr_el1', () => {
    expect(formatSnapshot({ ...arm, user_page_table_root: 0xaaaa_bbbbn })).toBe('ip=0xffff800081001234 sp=0xffff800080000000 ptroot=0x0000400080000000 uptroot=0x00000000aaaabbbb');
    expect(formatSnapshot({ ...kernel, tcr_el1: 5n })).not.toContain('tcr');
  });

  it('renders zeros at full width', () => {
    expect(formatSnapshot({ instruction_pointer: 0n, stack_pointer: 0n, page_table_root: 0n })).toBe('ip=0x0000000000000000 sp=0x0000000000000000 ptroot=0x0000000000000000');
  });
});

describe('snapshotToJson', () => {
  it('writes serde_json compact output with bare integers and no absent optionals', () => {
    expect(snapshotToJson({ instruction_pointer: 1n, stack_pointer: 2n, page_table_root: 3n })).toBe('{"instruction_pointer":1,"stack_pointer":2,"page_table_root":3}');
  });

  it('writes every u64 digit exactly, optionals in declaration order', () => {
    expect(snapshotToJson(arm)).toBe(
      '{"instruction_pointer":18446603338385461812,"stack_pointer":18446603338368679936,"page_table_root":70370891661312,' + '"user_page_table_root":16045690984503103501,"tcr_el1":3037724688}',
    );
    expect(snapshotToJson({ ...kernel, instruction_pointer: (1n << 64n) - 1n })).toContain('"instruction_pointer":18446744073709551615,');
  });

  it('refuses values that are not u64', () => {
    expect(() => snapshotToJson({ ...kernel, stack_pointer: -1n })).toThrow('snapshot field stack_pointer');
    expect(() => snapshotToJson({ ...kernel, tcr_el1: 1n << 64n })).toThrow('snapshot field tcr_el1');
    expect(() => snapshotToJson({ ...kernel, page_table_root: 3 as unknown as bigint })).toThrow('snapshot field page_table_root');
  });
});

describe('snapshotFromJson', () => {
  it('round-trips values above 2^53 exactly, with and without optionals', () => {
    expect(snapshotFromJson(snapshotToJson(kernel))).toEqual(kernel);
    expect(snapshotFromJson(snapshotToJson(arm))).toEqual(arm);
    const max = (1n << 64n) - 1n;
    const edge = { instruction_pointer: max, stack_pointer: (1n << 53n) + 1n, page_table_root: 0n, user_page_table_root: max };
    expect(snapshotFromJson(snapshotToJson(edge))).toEqual(edge);
  });

  it('leaves missing or null optionals absent rather than undefined-valued', () => {
    const s = snapshotFromJson('{"instruction_pointer":1,"stack_pointer":2,"page_table_root":3,"tcr_el1":null}');
    expect(s).toStrictEqual({ instruction_pointer: 1n, stack_pointer: 2n, page_table_root: 3n });
    expect('user_page_table_root' in s).toBe(false);
    expect('tcr_el1' in s).toBe(false);
  });

  it('accepts whitespace, any key order and unknown keys with nested values', () => {
    const text = ` {\n "tcr_el1" : 7 , "extra": {"n": [1.5, "x:9", -2]}, "page_table_root": 18446744073709551615,
      "stack_pointer":0, "instruction_pointer" : 9007199254740993 }`;
    expect(snapshotFromJson(text)).toStrictEqual({
      instruction_pointer: 9007199254740993n,
      stack_pointer: 0n,
      page_table_root: 18446744073709551615n,
      tcr_el1: 7n,
    });
  });

  it('names a missing required field', () => {
    expect(() => snapshotFromJson('{"instruction_pointer":1,"page_table_root":3}')).toThrow('missing field stack_pointer');
    expect(() => snapshotFromJson('{"instruction_pointer":null,"stack_pointer":1,"page_table_root":3}')).toThrow('missing field instruction_pointer');
  });

  it('names a field holding a non-integer', () => {
    const with_ = (v: string) => `{"instruction_pointer":1,"stack_pointer":${v},"page_table_root":3}`;
    expect(() => snapshotFromJson(with_('1.5'))).toThrow('field stack_pointer must be an integer in 0..2^64-1, got 1.5');
    expect(() => snapshotFromJson(with_('1e3'))).toThrow('field stack_pointer must be an integer in 0..2^64-1, got 1e3');
    expect(() => snapshotFromJson(with_('-1'))).toThrow('got -1');
    expect(() => snapshotFromJson(with_('18446744073709551616'))).toThrow('got 18446744073709551616');
    expect(() => snapshotFromJson(with_('"12"'))).toThrow('field stack_pointer must be an integer in 0..2^64-1, got "12"');
    expect(() => snapshotFromJson(with_('true'))).toThrow('got true');
    expect(() => snapshotFromJson(with_('[1]'))).toThrow('got [1]');
    expect(() => snapshotFromJson('{"instruction_pointer":1,"stack_pointer":2,"page_table_root":3,"tcr_el1":"0x5"}')).toThrow('field tcr_el1');
  });

  it('rejects text that is not a JSON object', () => {
    expect(() => snapshotFromJson('{"instruction_pointer":1,')).toThrow(SyntaxError);
    expect(() => snapshotFromJson('')).toThrow('snapshot JSON:');
    expect(() => snapshotFromJson('[1,2,3]')).toThrow('expected an object');
    expect(() => snapshotFromJson('null')).toThrow('expected an object');
    expect(() => snapshotFromJson('42')).toThrow('expected an object');
  });
});

describe('snapshot hex form', () => {
  it('gives 0x-prefixed 16-digit strings that survive JSON.stringify', () => {
    const h = snapshotToHex(arm);
    expect(h).toStrictEqual({
      instruction_pointer: '0xffff800081001234',
      stack_pointer: '0xffff800080000000',
      page_table_root: '0x0000400080000000',
      user_page_table_root: '0xdeadbeefcafed00d',
      tcr_el1: '0x00000000b5100010',
    });
    expect(snapshotFromHex(JSON.parse(JSON.stringify(h)))).toStrictEqual(arm);
  });

  it('leaves absent optionals out both ways', () => {
    expect(Object.keys(snapshotToHex(kernel))).toEqual(['instruction_pointer', 'stack_pointer', 'page_table_root']);
    expect(snapshotFromHex(snapshotToHex(kernel))).toStrictEqual(kernel);
  });

  it('names a missing or malformed field', () => {
    expect(() => snapshotFromHex({ instruction_pointer: '0x1', stack_pointer: '0x2' })).toThrow('missing field page_table_root');
    expect(() => snapshotFromHex({ instruction_pointer: '0x1', stack_pointer: 2, page_table_root: '0x3' })).toThrow('field stack_pointer');
    expect(() => snapshotFromHex({ instruction_pointer: '0x1', stack_pointer: '0x2', page_table_root: '0x10000000000000000' })).toThrow('field page_table_root');
  });
});

import { describe, expect, it } from 'vitest';
import { buffer, device, integer, interrupt, memory32Fixed, name, nameString, pkg, pkgLength, resourceTemplate, scope, string } from './aml.ts';
import { sum8 } from './sdt.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('AML encoding', () => {
  it('encodes PkgLength in 1..4 bytes, counting itself', () => {
    expect([...pkgLength(0)]).toEqual([0x01]);
    expect([...pkgLength(62)]).toEqual([0x3f]);
    expect([...pkgLength(63)]).toEqual([0x41, 0x04]); // 65 = 0x041
    expect([...pkgLength(4093)]).toEqual([0x4f, 0xff]); // 4095
    expect([...pkgLength(4094)]).toEqual([0x81, 0x00, 0x01]); // 4097 = 0x1001
    expect([...pkgLength(0x100000)]).toEqual([0xc4, 0x00, 0x00, 0x01]); // 0x100004
  });

  it('encodes integers in their shortest form', () => {
    expect([0, 1, 2, 0xff, 0x100, 0xffff, 0x10000, 0xffff_ffff].map((n) => hex(integer(n)))).toEqual(['00', '01', '0a02', '0aff', '0b0001', '0bffff', '0c00000100', '0cffffffff']);
    expect(hex(integer(0x1_0000_0000n))).toBe('0e0000000001000000');
    expect(() => integer(-1)).toThrow('out of range');
  });

  it('encodes names: padded segments, root prefix, dual and multi paths', () => {
    expect(hex(nameString('_SB'))).toBe('5f53425f');
    expect(hex(nameString('\\_SB'))).toBe('5c5f53425f');
    expect(hex(nameString('\\_SB.VR00'))).toBe('5c2e5f53425f56523030');
    expect(hex(nameString('A.B.C'))).toBe('2f03415f5f5f425f5f5f435f5f5f');
    expect(hex(nameString('^FOO'))).toBe('5e464f4f5f');
    expect(() => nameString('1ABC')).toThrow("invalid AML name segment '1ABC'");
  });

  it('encodes strings, buffers, packages, names, scopes and devices', () => {
    expect(hex(string('AB'))).toBe('0d414200');
    expect(hex(buffer([1, 2, 3]))).toBe('11060a03010203');
    expect(hex(pkg(integer(5), integer(0)))).toBe('1205020a0500');
    expect(hex(name('_UID', integer(1)))).toBe('085f55494401');
    expect(hex(scope('_SB'))).toBe('10055f53425f');
    expect(hex(device('VR00', name('_UID', integer(0))))).toBe('5b820b56523030085f55494400');
  });

  it('encodes Memory32Fixed and Interrupt descriptors', () => {
    expect(hex(memory32Fixed(0xd000_0000, 0x200))).toBe('86090001000000d000020000');
    expect(hex(interrupt([5], { edge: true }))).toBe('890600030105000000');
    expect(hex(interrupt([16, 17], { edge: false, activeLow: true, shared: true }))).toBe('890a000d021000000011000000');
  });

  it('closes a ResourceTemplate with an EndTag whose checksum zeroes the descriptor sum', () => {
    const t = resourceTemplate(memory32Fixed(0xd000_0000, 0x200), interrupt([5], { edge: true }));
    // Buffer op, PkgLength, BufferSize (BytePrefix 23), then 23 descriptor bytes.
    expect([...t.subarray(0, 4)]).toEqual([0x11, 0x1a, 0x0a, 23]);
    const body = t.subarray(4);
    expect(body.length).toBe(23);
    expect(body[21]).toBe(0x79);
    expect(sum8(body)).toBe(0);
  });
});

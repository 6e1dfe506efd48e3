import { describe, expect, it } from 'vitest';
import { ifreqName, tunSetIffRequest } from './tap.ts';

describe('TUNSETIFF request', () => {
  it('lays out struct ifreq: the name, NUL-padded, then the flags at byte 16', () => {
    const req = tunSetIffRequest('schedvm%d', 0x1002);
    expect(req.length).toBe(40);
    expect(Buffer.from(req.subarray(0, 9)).toString()).toBe('schedvm%d');
    expect(req[9]).toBe(0);
    expect(new DataView(req.buffer).getUint16(16, true)).toBe(0x1002);
  });

  it('reads back the name the kernel chose', () => {
    const req = tunSetIffRequest('schedvm%d', 0);
    req.set(Buffer.from('schedvm12\0'), 0);
    expect(ifreqName(req)).toBe('schedvm12');
  });

  it('refuses names the kernel cannot take', () => {
    expect(() => tunSetIffRequest('', 0)).toThrow(/1\.\.15 bytes/);
    expect(() => tunSetIffRequest('a-very-long-tap-name', 0)).toThrow(/TAP name 'a-very-long-tap-name'/);
    expect(() => tunSetIffRequest('tap/0', 0)).toThrow(/without spaces or '\/'/);
  });
});

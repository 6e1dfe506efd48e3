import { describe, expect, it } from 'vitest';
import { FrameRing } from './frame-ring.ts';

describe('FrameRing', () => {
  it('returns frames whole and in order', () => {
    const r = FrameRing.create(64);
    expect(r.push(Uint8Array.of(1, 2, 3))).toBe(true);
    expect(r.push(Uint8Array.of(4))).toBe(true);
    expect(r.peekLength()).toBe(3);
    expect([...r.pop()!]).toEqual([1, 2, 3]);
    expect([...r.pop()!]).toEqual([4]);
    expect(r.pop()).toBeUndefined();
    expect(r.empty).toBe(true);
  });

  it('refuses a frame that does not fit and keeps what it holds', () => {
    const r = FrameRing.create(16);
    expect(r.push(new Uint8Array(12))).toBe(true);
    expect(r.push(new Uint8Array(1))).toBe(false);
    expect(r.pop()!.length).toBe(12);
    expect(r.push(new Uint8Array(12))).toBe(true);
  });

  it('wraps frames and lengths around the end of the buffer', () => {
    const r = FrameRing.create(32);
    for (let i = 0; i < 100; i++) {
      const f = Uint8Array.from({ length: 1 + (i % 11) }, (_, k) => i + k);
      expect(r.push(f)).toBe(true);
      expect([...r.pop()!]).toEqual([...f]);
    }
  });

  it('shares frames between views of one SharedArrayBuffer', () => {
    const a = FrameRing.create(64);
    const b = new FrameRing(a.sab);
    a.push(Uint8Array.of(9));
    expect([...b.pop()!]).toEqual([9]);
  });

  it('wants a power-of-two capacity', () => {
    expect(() => FrameRing.create(48)).toThrow(/power of two/);
  });
});

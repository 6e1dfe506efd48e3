import { describe, expect, it } from 'vitest';
import { ByteRing } from './byte-ring.ts';

describe('ByteRing', () => {
  it('hands bytes over in order across the wrap, one at a time or all at once', () => {
    const ring = ByteRing.create(16);
    const a = Array.from({ length: 10 }, (_, i) => i + 1);
    for (const b of a) ring.push(b);
    expect([...ring.drain()]).toEqual(a);
    const b = Array.from({ length: 12 }, (_, i) => 100 + i); // from offset 10: wraps at 16
    for (const x of b) ring.push(x);
    expect(ring.available).toBe(12);
    expect([ring.drainOne(), ring.drainOne()]).toEqual([100, 101]);
    expect([...ring.drain()]).toEqual(b.slice(2));
    expect(ring.available).toBe(0);
  });

  it('holds a full ring and shares it with another view of the same buffer', () => {
    const ring = ByteRing.create(8);
    for (let i = 0; i < 8; i++) ring.push(i);
    const other = new ByteRing(ring.sab);
    expect(other.available).toBe(8);
    expect([...other.drain()]).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(ring.available).toBe(0);
  });
});

// The fuzzer's small tools: a seeded generator (mulberry32), byte concatenation, and an assertion
// cheap enough for its hot loop.

export class Rng {
  constructor(private s: number) {}
  next(): number {
    // mulberry32
    this.s = (this.s + 0x6d2b79f5) | 0;
    let t = Math.imul(this.s ^ (this.s >>> 15), 1 | this.s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const v = (this.next() * 2 ** 32) >>> 0;
      out[i] = v;
      out[i + 1] = v >>> 8; // writes past the end are dropped
      out[i + 2] = v >>> 16;
      out[i + 3] = v >>> 24;
    }
    return out;
  }
}

export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

const show = (v: unknown) => {
  const s = v instanceof Uint8Array ? `bytes[${v.length}] ${Buffer.from(v).toString('hex')}` : JSON.stringify(v);
  return s.length > 200 ? `${s.slice(0, 200)}...` : s;
};
/** A cheap assertion for the hot loop (vitest's expect costs more than the device does). */
export function is(actual: unknown, expected: unknown, what: string): void {
  const same =
    actual instanceof Uint8Array && expected instanceof Uint8Array
      ? Buffer.from(actual.buffer, actual.byteOffset, actual.length).equals(Buffer.from(expected.buffer, expected.byteOffset, expected.length))
      : Array.isArray(actual) && Array.isArray(expected)
        ? actual.length === expected.length && actual.every((v, i) => v === expected[i])
        : actual === expected;
  if (!same) throw new Error(`${what}: expected ${show(expected)}, got ${show(actual)}`);
}

import { describe, expect, it } from 'vitest';
import type { GuestMemory } from '../memory.ts';
import { loadPayload } from './machine.ts';

describe('loadPayload, bare-metal guests', () => {
  it("refuses RAM that the vCPUs' stacks do not fit in, naming the memory_mb that does", () => {
    const writes: number[] = [];
    const mem = { write: (gpa: number) => writes.push(gpa) } as unknown as GuestMemory;
    const guest = { kind: 'bare' as const, image: new Uint8Array(16) };
    const ram = (mib: number) => [{ gpa: 0, size: mib << 20, node: 0 }];
    const flat = (n: number) => ({ numa_nodes: 1, llcs: 1, cores_per_llc: n, threads_per_core: 1 });
    // 16 KiB stacks from 4 MiB: 257 vCPUs end at 8 MiB + 16 KiB.
    expect(() => loadPayload(guest, mem, ram(8), flat(257))).toThrow("memory: 257 vCPUs' stacks end at 9 MiB of guest RAM, but it has 8 MiB; give memory_mb of at least 9");
    expect(writes).toEqual([]);
    expect(() => loadPayload(guest, mem, ram(8), flat(256))).not.toThrow(); // ends at 8 MiB exactly
    expect(loadPayload(guest, mem, ram(9), flat(257)).ram).toEqual(ram(9));
  });
});

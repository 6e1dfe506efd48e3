import { describe, expect, it } from 'vitest';
import { e820Map, E820_RAM, E820_RESERVED, linuxRamLayout, MMIO_GAP_END, MMIO_GAP_START } from './linux-boot.ts';

const MiB = 1 << 20;

describe('linuxRamLayout', () => {
  it('is one range for a small single-node VM', () => {
    expect(linuxRamLayout(512)).toEqual([{ gpa: 0, size: 512 * MiB, node: 0 }]);
  });
  it('splits RAM evenly between nodes in address order', () => {
    expect(linuxRamLayout(1024, 2)).toEqual([
      { gpa: 0, size: 512 * MiB, node: 0 },
      { gpa: 512 * MiB, size: 512 * MiB, node: 1 },
    ]);
  });
  it('skips the 3-4 GiB MMIO gap, splitting the node that straddles it', () => {
    expect(linuxRamLayout(4096, 2)).toEqual([
      { gpa: 0, size: 2048 * MiB, node: 0 },
      { gpa: 2048 * MiB, size: 1024 * MiB, node: 1 },
      { gpa: MMIO_GAP_END, size: 1024 * MiB, node: 1 },
    ]);
    expect(linuxRamLayout(4096).every((r) => r.gpa + r.size <= MMIO_GAP_START || r.gpa >= MMIO_GAP_END)).toBe(true);
  });
  it('gives the last node the remainder', () => {
    expect(linuxRamLayout(1000, 3).map((r) => r.size / MiB)).toEqual([333, 333, 334]);
  });
});

describe('e820Map', () => {
  it('reserves the EBDA/BIOS area and merges contiguous RAM', () => {
    expect(e820Map(linuxRamLayout(1024, 2))).toEqual([
      { addr: 0, size: 0x9fc00, type: E820_RAM },
      { addr: 0x9fc00, size: 0x100000 - 0x9fc00, type: E820_RESERVED },
      { addr: 0x100000, size: 1024 * MiB - 0x100000, type: E820_RAM },
    ]);
  });
  it('keeps the RAM above 4 GiB separate', () => {
    const map = e820Map(linuxRamLayout(4096));
    expect(map.at(-1)).toEqual({ addr: MMIO_GAP_END, size: 1024 * MiB, type: E820_RAM });
    expect(map.at(-2)).toEqual({ addr: 0x100000, size: 3072 * MiB - 0x100000, type: E820_RAM });
  });
});

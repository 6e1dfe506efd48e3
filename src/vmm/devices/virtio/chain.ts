// A descriptor chain, parsed once and validated: the typed list of guest buffers a request uses.
import { toGuestPhys, type GuestPhysAddr } from '../../guest-address.ts';
import type { GuestMemory } from '../../memory.ts';
import { DESC_F_INDIRECT, DESC_F_NEXT, DESC_F_WRITE, DESC_SIZE } from './constants.ts';
import { GuestInputError } from './errors.ts';

/** A validated guest buffer: [addr, addr + len) lies in guest RAM. */
export interface GuestBuffer {
  readonly addr: GuestPhysAddr;
  readonly len: number;
}

export interface DescriptorChain {
  /** Head descriptor index: what goes back in the used ring. */
  readonly head: number;
  /** Device-readable buffers, in order, then device-writable ones. */
  readonly readable: readonly GuestBuffer[];
  readonly writable: readonly GuestBuffer[];
  readonly readableLen: number;
  readonly writableLen: number;
}

export interface ChainLimits {
  /** Largest total length the device accepts (capped at 2^32). */
  maxBytes: number;
  /** VIRTIO_F_INDIRECT_DESC was negotiated. */
  indirect: boolean;
}

const U32_SPAN = 2 ** 32;

interface RawDesc {
  addr: bigint;
  len: number;
  flags: number;
  next: number;
}

function readDesc(ram: GuestMemory, at: GuestPhysAddr): RawDesc {
  const b = ram.read(at, DESC_SIZE); // a copy: an indirect table may straddle two regions
  const v = new DataView(b.buffer);
  return { addr: v.getBigUint64(0, true), len: v.getUint32(8, true), flags: v.getUint16(12, true), next: v.getUint16(14, true) };
}

/** Where the descriptor's [addr, addr + len) lies in guest RAM; a GuestInputError (the guest's fault) if it does not. */
function inRam(ram: GuestMemory, d: RawDesc, what: string): GuestPhysAddr {
  let gpa: GuestPhysAddr | undefined;
  try {
    gpa = toGuestPhys(d.addr);
  } catch {
    // past guest-physical space: no RAM there either
  }
  if (gpa === undefined || !ram.contains(gpa, d.len)) throw new GuestInputError('address', `${what} 0x${d.addr.toString(16)}+0x${d.len.toString(16)} is outside guest RAM`);
  return gpa;
}

class ChainBuilder {
  readonly readable: GuestBuffer[] = [];
  readonly writable: GuestBuffer[] = [];
  readableLen = 0;
  writableLen = 0;
  private sawWritable = false;
  private readonly cap: number;

  constructor(
    private readonly ram: GuestMemory,
    limits: ChainLimits,
  ) {
    this.cap = Math.min(limits.maxBytes, U32_SPAN);
  }

  add(d: RawDesc): void {
    const total = this.readableLen + this.writableLen + d.len;
    if (total > this.cap) throw new GuestInputError('chain-length', `chain of ${total} bytes is over the ${this.cap}-byte limit`);
    const writable = (d.flags & DESC_F_WRITE) !== 0;
    if (!writable && this.sawWritable) throw new GuestInputError('write-order', 'device-readable buffer after a device-writable one');
    this.sawWritable ||= writable;
    if (d.len === 0) return;
    const addr = inRam(this.ram, d, 'buffer');
    if (writable) {
      this.writable.push({ addr, len: d.len });
      this.writableLen += d.len;
    } else {
      this.readable.push({ addr, len: d.len });
      this.readableLen += d.len;
    }
  }
}

/**
 * Walks the chain starting at descriptor `head` of the table at `table` (queue size `size`):
 * zero or more direct descriptors, optionally ending in one indirect table. Throws
 * GuestInputError on anything malformed; reads guest RAM only.
 */
export function parseChain(ram: GuestMemory, table: GuestPhysAddr, size: number, head: number, limits: ChainLimits): DescriptorChain {
  const out = new ChainBuilder(ram, limits);
  let index = head;
  for (let count = 1; ; count++) {
    if (index >= size) throw new GuestInputError('descriptor-index', `descriptor ${index} is past the ${size}-entry table`);
    if (count > size) throw new GuestInputError('descriptor-loop', `chain from ${head} is longer than the queue`);
    const d = readDesc(ram, table + index * DESC_SIZE);
    if (d.flags & DESC_F_INDIRECT) {
      if (!limits.indirect) throw new GuestInputError('indirect-not-negotiated', `descriptor ${index} is indirect`);
      if (d.flags & DESC_F_NEXT) throw new GuestInputError('indirect-with-next', `indirect descriptor ${index} has NEXT set`);
      walkIndirect(ram, d, size, out);
      break;
    }
    out.add(d);
    if (!(d.flags & DESC_F_NEXT)) break;
    index = d.next;
  }
  return { head, readable: out.readable, writable: out.writable, readableLen: out.readableLen, writableLen: out.writableLen };
}

function walkIndirect(ram: GuestMemory, ref: RawDesc, size: number, out: ChainBuilder): void {
  if (ref.len === 0 || ref.len % DESC_SIZE !== 0) throw new GuestInputError('indirect-table', `indirect table of ${ref.len} bytes`);
  const entries = ref.len / DESC_SIZE;
  if (entries > size) throw new GuestInputError('indirect-table', `indirect table of ${entries} entries is longer than the queue (${size})`);
  const table = inRam(ram, ref, 'indirect table');
  let index = 0;
  for (let count = 1; ; count++) {
    if (index >= entries) throw new GuestInputError('descriptor-index', `indirect descriptor ${index} is past the ${entries}-entry table`);
    if (count > entries) throw new GuestInputError('descriptor-loop', 'indirect chain loops');
    const d = readDesc(ram, table + index * DESC_SIZE);
    if (d.flags & DESC_F_INDIRECT) throw new GuestInputError('indirect-nested', `indirect descriptor ${index} points at another table`);
    out.add(d);
    if (!(d.flags & DESC_F_NEXT)) break;
    index = d.next;
  }
}

// A split virtqueue as the device sees it: its registers live in the shared transport state,
// its rings in guest RAM. Call everything with the transport lock held.
import type { GuestPhysAddr } from '../../guest-address.ts';
import type { GuestMemory } from '../../memory.ts';
import { AVAIL_F_NO_INTERRUPT, DESC_SIZE, F_INDIRECT_DESC } from './constants.ts';
import { parseChain, type DescriptorChain } from './chain.ts';
import { GuestInputError } from './errors.ts';
import {
  address,
  Q_DESC_HI,
  Q_DESC_LO,
  Q_DEVICE_HI,
  Q_DEVICE_LO,
  Q_DRIVER_HI,
  Q_DRIVER_LO,
  Q_MAX,
  Q_NEXT_AVAIL,
  Q_NEXT_USED,
  Q_NUM,
  Q_READY,
  queueBase,
  W_DRIVER_FEATURES_LO,
  W_STALLED,
} from './state.ts';

const INDIRECT_BIT = Number(F_INDIRECT_DESC);

export class SplitQueue {
  private readonly b: number;
  private interruptDue = false;

  constructor(
    private readonly s: Int32Array,
    readonly index: number,
    private readonly ram: GuestMemory,
    /** The device's cap on one chain's total length. */
    private readonly maxChainBytes: number,
  ) {
    this.b = queueBase(index);
  }

  get maxSize(): number {
    return this.s[this.b + Q_MAX]!;
  }
  get size(): number {
    return this.s[this.b + Q_NUM]!;
  }
  get ready(): boolean {
    return this.s[this.b + Q_READY] === 1;
  }
  private get desc(): GuestPhysAddr {
    return address(this.s[this.b + Q_DESC_LO]!, this.s[this.b + Q_DESC_HI]!);
  }
  private get avail(): GuestPhysAddr {
    return address(this.s[this.b + Q_DRIVER_LO]!, this.s[this.b + Q_DRIVER_HI]!);
  }
  private get used(): GuestPhysAddr {
    return address(this.s[this.b + Q_DEVICE_LO]!, this.s[this.b + Q_DEVICE_HI]!);
  }

  /** QueueReady = 1: checks the size and ring placement the driver chose, then starts at index 0. */
  activate(): void {
    const n = this.size;
    if (!(n >= 1 && n <= this.maxSize && (n & (n - 1)) === 0)) throw new GuestInputError('queue-layout', `queue ${this.index}: size ${n} (max ${this.maxSize}, a power of two)`);
    this.checkArea('descriptor table', this.desc, DESC_SIZE * n, 16);
    this.checkArea('available ring', this.avail, 6 + 2 * n, 2);
    this.checkArea('used ring', this.used, 6 + 8 * n, 4);
    this.s[this.b + Q_NEXT_AVAIL] = 0;
    this.s[this.b + Q_NEXT_USED] = 0;
    this.s[this.b + Q_READY] = 1;
  }

  deactivate(): void {
    this.s[this.b + Q_READY] = 0;
  }

  private checkArea(what: string, addr: GuestPhysAddr, len: number, align: number): void {
    if (!Number.isSafeInteger(addr) || addr % align !== 0 || !this.ram.contains(addr, len)) {
      throw new GuestInputError('queue-layout', `queue ${this.index}: ${what} at 0x${addr.toString(16)} (${len} bytes, align ${align})`);
    }
  }

  /** The next available chain, parsed; undefined when the driver has offered nothing new. */
  pop(): DescriptorChain | undefined {
    const n = this.size;
    const next = this.s[this.b + Q_NEXT_AVAIL]!;
    const idx = this.ram.loadU16(this.avail + 2);
    const pending = (idx - next) & 0xffff;
    if (pending === 0) return undefined;
    if (pending > n) throw new GuestInputError('avail-index', `queue ${this.index}: available index ${idx} is ${pending} ahead of ${next} (size ${n})`);
    const head = this.ram.loadU16(this.avail + 4 + 2 * (next % n));
    if (head >= n) throw new GuestInputError('head-index', `queue ${this.index}: head ${head} is past the ${n}-entry table`);
    const indirect = (this.s[W_DRIVER_FEATURES_LO]! & INDIRECT_BIT) !== 0;
    const chain = parseChain(this.ram, this.desc, n, head, { maxBytes: this.maxChainBytes, indirect });
    this.s[this.b + Q_NEXT_AVAIL] = (next + 1) & 0xffff;
    return chain;
  }

  /** Puts the last popped chain back: it is taken again by the next pop(). */
  unpop(): void {
    this.s[this.b + Q_NEXT_AVAIL] = (this.s[this.b + Q_NEXT_AVAIL]! - 1) & 0xffff;
  }

  /** Returns a chain to the driver: the element first, then the index that publishes it. */
  addUsed(head: number, len: number): void {
    const used = this.used;
    const next = this.s[this.b + Q_NEXT_USED]!;
    const slot = used + 4 + 8 * (next % this.size);
    this.ram.writeU32(slot, head);
    this.ram.writeU32(slot + 4, len);
    const idx = (next + 1) & 0xffff;
    this.s[this.b + Q_NEXT_USED] = idx;
    this.ram.storeU16(used + 2, idx);
    // Read the driver's suppression flag only after publishing (it may be re-enabling callbacks).
    if (!(this.ram.loadU16(this.avail) & AVAIL_F_NO_INTERRUPT)) this.interruptDue = true;
  }

  /** Marks the queue as waiting for host-side room; MmioTransport.resumeStalled() retries it. */
  stall(): void {
    this.s[W_STALLED] = this.s[W_STALLED]! | (1 << this.index);
  }

  /** Whether addUsed() since the last call calls for a used-buffer interrupt; clears it. */
  takeInterruptDue(): boolean {
    const due = this.interruptDue;
    this.interruptDue = false;
    return due;
  }
}

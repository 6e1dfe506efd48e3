// KVM's coalesced I/O ring (struct kvm_coalesced_mmio_ring): guest writes to a registered zone
// (the UARTs' transmit registers) are queued in one page, shared by every vCPU's kvm_run mapping,
// instead of exiting; a full ring makes the write exit as usual. Whoever serves an exit applies
// the queued writes first, in order, so every access that does exit (LSR, IIR, IER, a reset)
// sees the writes that came before it. Layout: u32 first, u32 last, then entries of u64
// phys_addr, u32 len, u32 pio, u8 data[8]; KVM fills `last`, the VMM consumes from `first`.
// Host kernels whose coalesced_mmio_has_room() still computes `(first - last - 1) % MAX` in u32
// (before its 2024 fix; Debian 12's 6.1.0-57 has the fix) can overwrite a full ring once
// `first` wraps to 0 while a writer keeps going, losing up to 170 queued writes. Only a guest
// that writes THR 170 times with no UART read in between (LSR, IIR) gets there; Linux writes
// at most 16 bytes per read.
import { lock, unlock } from './devices/shared-lock.ts';

const FIRST = 0;
const LAST = 1;
const HEADER_BYTES = 8;
const ENTRY_BYTES = 24;
const PAGE_BYTES = 4096;

/** One queued guest write. */
export interface CoalescedWrite {
  /** A port (pio) or a guest-physical address. */
  addr: number;
  pio: boolean;
  data: Uint8Array;
}

/** Where a VM's ring is: its page of the vCPU mmap, and the lock its consumers share. */
export interface CoalescedRingInit {
  /** KVM_CAP_COALESCED_MMIO's value: the ring's page within a vCPU's mmap. */
  pageOffset: number;
  /** One Int32 word: the vCPU threads of a VM drain the one ring in turn. */
  lock: SharedArrayBuffer;
}

export function coalescedRingLock(): SharedArrayBuffer {
  return new SharedArrayBuffer(4);
}

export class CoalescedRing {
  private readonly index: Int32Array;
  private readonly entries: DataView;
  private readonly bytes: Uint8Array;
  private readonly lockWord: Int32Array;
  /** KVM_COALESCED_MMIO_MAX: the entries that fit in the page. */
  readonly capacity: number;

  /** `page`: the ring's page (a view into a vCPU's kvm_run mapping, or a test's buffer). */
  constructor(page: Uint8Array, lockSab: SharedArrayBuffer) {
    this.index = new Int32Array(page.buffer, page.byteOffset, 2);
    this.entries = new DataView(page.buffer, page.byteOffset + HEADER_BYTES, page.byteLength - HEADER_BYTES);
    this.bytes = page;
    this.lockWord = new Int32Array(lockSab);
    this.capacity = Math.floor((page.byteLength - HEADER_BYTES) / ENTRY_BYTES);
  }

  /** The ring in a vCPU's mapping (runBytes spans the whole vCPU mmap). */
  static inRun(runBytes: Uint8Array, init: CoalescedRingInit): CoalescedRing {
    const start = init.pageOffset * PAGE_BYTES;
    return new CoalescedRing(runBytes.subarray(start, start + PAGE_BYTES), init.lock);
  }

  /** Hands every queued write to `apply`, oldest first; returns how many there were. */
  drain(apply: (write: CoalescedWrite) => void): number {
    // The common case, checked without the lock: nothing queued since the last exit.
    if (Atomics.load(this.index, FIRST) === Atomics.load(this.index, LAST)) return 0;
    lock(this.lockWord, 0);
    let n = 0;
    try {
      let first = Atomics.load(this.index, FIRST);
      const last = Atomics.load(this.index, LAST);
      while (first !== last) {
        const at = first * ENTRY_BYTES;
        const len = Math.min(this.entries.getUint32(at + 8, true), 8);
        const dataAt = HEADER_BYTES + at + 16;
        apply({
          addr: Number(this.entries.getBigUint64(at, true)),
          pio: this.entries.getUint32(at + 12, true) !== 0,
          data: this.bytes.subarray(dataAt, dataAt + len),
        });
        first = (first + 1) % this.capacity;
        // Released one at a time, as QEMU does: KVM may fill the slot again at once.
        Atomics.store(this.index, FIRST, first);
        n++;
      }
    } finally {
      unlock(this.lockWord, 0);
    }
    return n;
  }
}

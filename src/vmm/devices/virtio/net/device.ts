// virtio-net (device id 1): rx queue 0, tx queue 1, a MAC in config space, the 12-byte
// virtio_net_hdr (v1) on every buffer. Frames cross threads through two shared FrameRings: the
// guest's transmissions for the host, and the host's frames waiting for guest rx buffers.
import type { GuestPhysAddr } from '../../../guest-address.ts';
import type { GuestMemory } from '../../../memory.ts';
import { DeviceId } from '../constants.ts';
import type { VirtioDevice, VirtioEnv } from '../device.ts';
import { GuestInputError } from '../errors.ts';
import { ReadableBuffers, WritableBuffers } from '../iovec.ts';
import { MmioTransport } from '../mmio.ts';
import type { SplitQueue } from '../queue.ts';
import { createTransportState } from '../state.ts';
import type { NetBackend } from './backend.ts';
import { FrameRing } from './frame-ring.ts';
import { macBytes } from './frames.ts';

export const RXQ = 0;
export const TXQ = 1;
const QUEUE_SIZE = 256;
/** virtio_net_hdr_v1: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, num_buffers. */
export const NET_HDR_BYTES = 12;
const ETH_HEADER = 14;
/** No TSO/UFO offered: frames are at most 64 KiB. */
const MAX_FRAME = 65535;
const MAX_RX_CHAIN = 1 << 20;
export const NET_F_MAC = 1n << 5n;
export const DEFAULT_MAC = '52:54:00:12:34:56';

// Counter words.
const C_TX_FRAMES = 0;
const C_TX_DROPPED = 1;
const C_RX_FRAMES = 2;
const C_RX_DROPPED = 3;

export interface VirtioNetShared {
  base: GuestPhysAddr;
  transport: SharedArrayBuffer;
  mac: string;
  /** FrameRing: guest to host. */
  tx: SharedArrayBuffer;
  /** FrameRing: host to guest, waiting for rx buffers. */
  rx: SharedArrayBuffer;
  counters: SharedArrayBuffer;
}

export interface VirtioNetOptions {
  base: GuestPhysAddr;
  /** aa:bb:cc:dd:ee:ff; default 52:54:00:12:34:56. */
  mac?: string;
  /** Bytes per direction (a power of two); default 1 MiB. */
  ringCapacity?: number;
}

export interface NetStats {
  txFrames: number;
  /** Guest frames shorter than an Ethernet header or longer than 64 KiB. */
  txDropped: number;
  rxFrames: number;
  /** Host frames refused: rx ring full, or bigger than the guest's buffer. */
  rxDropped: number;
}

export interface NetLink {
  /** Moves the guest's transmitted frames to the backend now; returns how many. */
  pump(): number;
  stop(): void;
}

export class VirtioNet implements VirtioDevice {
  readonly deviceId = DeviceId.Net;
  readonly queueMaxSizes = [QUEUE_SIZE, QUEUE_SIZE];
  readonly features = NET_F_MAC;
  readonly config = new Uint8Array(8); // mac[6], status (unused without F_STATUS)
  readonly mmio: MmioTransport;
  private readonly ram: GuestMemory;
  private readonly tx: FrameRing;
  private readonly rx: FrameRing;
  private readonly counters: Int32Array;

  constructor(
    readonly shared: VirtioNetShared,
    env: VirtioEnv,
  ) {
    this.config.set(macBytes(shared.mac));
    this.tx = new FrameRing(shared.tx);
    this.rx = new FrameRing(shared.rx);
    this.counters = new Int32Array(shared.counters);
    this.ram = env.memory;
    this.mmio = new MmioTransport(shared.base, shared.transport, this, this.ram, env);
  }

  static createShared(opts: VirtioNetOptions): VirtioNetShared {
    const mac = opts.mac ?? DEFAULT_MAC;
    macBytes(mac); // reject a bad one here
    const cap = opts.ringCapacity ?? 1 << 20;
    return {
      base: opts.base,
      transport: createTransportState([QUEUE_SIZE, QUEUE_SIZE]),
      mac,
      tx: FrameRing.create(cap).sab,
      rx: FrameRing.create(cap).sab,
      counters: new SharedArrayBuffer(4 * 4),
    };
  }

  static create(opts: VirtioNetOptions, env: VirtioEnv): VirtioNet {
    return new VirtioNet(VirtioNet.createShared(opts), env);
  }

  maxChainBytes(q: number): number {
    return q === TXQ ? NET_HDR_BYTES + MAX_FRAME : MAX_RX_CHAIN;
  }

  process(queue: SplitQueue): void {
    if (queue.index === TXQ) this.transmit(queue);
    else this.receive(queue);
  }

  reset(): void {}

  private transmit(q: SplitQueue): void {
    for (let i = 0; i < q.size; i++) {
      const chain = q.pop();
      if (!chain) return;
      if (chain.readableLen < NET_HDR_BYTES) throw new GuestInputError('request', `tx chain of ${chain.readableLen} bytes has no virtio_net_hdr`);
      const len = chain.readableLen - NET_HDR_BYTES;
      if (len < ETH_HEADER) {
        Atomics.add(this.counters, C_TX_DROPPED, 1);
      } else if (!this.tx.fits(len)) {
        q.unpop(); // the host has not drained: wait (takeTransmitted resumes us)
        q.stall();
        return;
      } else {
        this.tx.push(ReadableBuffers.of(this.ram, chain).read(NET_HDR_BYTES, len));
        Atomics.add(this.counters, C_TX_FRAMES, 1);
      }
      q.addUsed(chain.head, 0);
    }
  }

  private receive(q: SplitQueue): void {
    for (let i = 0; i < q.size; i++) {
      const len = this.rx.peekLength();
      if (len === undefined) return;
      const chain = q.pop();
      if (!chain) return;
      if (chain.writableLen < NET_HDR_BYTES + len) {
        this.rx.pop(); // too big for the guest's buffers: dropped, the buffer stays offered
        Atomics.add(this.counters, C_RX_DROPPED, 1);
        q.unpop();
        continue;
      }
      const frame = this.rx.pop()!;
      const out = WritableBuffers.of(this.ram, chain);
      const hdr = new Uint8Array(NET_HDR_BYTES);
      hdr[10] = 1; // num_buffers
      out.write(0, hdr);
      out.write(NET_HDR_BYTES, frame);
      q.addUsed(chain.head, NET_HDR_BYTES + frame.length);
      Atomics.add(this.counters, C_RX_FRAMES, 1);
    }
  }

  /**
   * Host side (one thread): a frame for the guest. Queued, then handed to the guest at once if
   * it has rx buffers (else when it adds some). False: dropped, the rx ring is full.
   */
  inject(frame: Uint8Array): boolean {
    if (frame.length > MAX_FRAME || !this.rx.push(frame)) {
      Atomics.add(this.counters, C_RX_DROPPED, 1);
      return false;
    }
    this.mmio.kick(RXQ);
    return true;
  }

  /** Host side (one thread): frames the guest sent since the last call, oldest first. */
  takeTransmitted(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let f = this.tx.pop(); f; f = this.tx.pop()) out.push(f);
    this.mmio.resumeStalled();
    return out;
  }

  /**
   * Host side: joins the device to a backend. Frames from the backend go to inject(); the
   * guest's frames go to backend.send() every `pollMs` (and on pump()).
   */
  connect(backend: NetBackend, pollMs = 5): NetLink {
    backend.onFrame((f) => this.inject(f));
    const pump = () => {
      const frames = this.takeTransmitted();
      for (const f of frames) backend.send(f);
      return frames.length;
    };
    const timer = setInterval(pump, pollMs);
    timer.unref();
    return {
      pump,
      stop: () => {
        clearInterval(timer);
        backend.close?.();
      },
    };
  }

  get stats(): NetStats {
    const c = this.counters;
    return {
      txFrames: Atomics.load(c, C_TX_FRAMES),
      txDropped: Atomics.load(c, C_TX_DROPPED),
      rxFrames: Atomics.load(c, C_RX_FRAMES),
      rxDropped: Atomics.load(c, C_RX_DROPPED),
    };
  }
}

// virtio-blk (device id 2): one request queue over a file, read-only or read-write.
import type { GuestPhysAddr } from '../../../guest-address.ts';
import type { GuestMemory } from '../../../memory.ts';
import { closeSync } from 'node:fs';
import { basename } from 'node:path';
import { DeviceId } from '../constants.ts';
import type { VirtioDevice, VirtioEnv } from '../device.ts';
import { MmioTransport } from '../mmio.ts';
import type { SplitQueue } from '../queue.ts';
import { createTransportState } from '../state.ts';
import { BlockFile, openBlockFile, type BlockFileInfo } from './backend.ts';
import { BLK_ID_BYTES, BLK_S_IOERR, BLK_S_OK, BLK_S_UNSUPP, parseBlockRequest, SECTOR_SIZE, type BlockRequest } from './request.ts';

export const REQUESTQ = 0;
const QUEUE_SIZE = 256;
/** Header and status take two descriptors of a direct chain. */
const SEG_MAX = QUEUE_SIZE - 2;
const MAX_CHAIN_BYTES = 64 << 20;
const CONFIG_BYTES = 64;

export const BLK_F_SEG_MAX = 1n << 2n;
export const BLK_F_RO = 1n << 5n;
export const BLK_F_FLUSH = 1n << 9n;

export interface VirtioBlockShared extends BlockFileInfo {
  base: GuestPhysAddr;
  transport: SharedArrayBuffer;
  /** GET_ID answer (at most 20 bytes). */
  id: string;
}

export interface VirtioBlockOptions {
  base: GuestPhysAddr;
  /** A regular file: the disk image. */
  path: string;
  readOnly?: boolean;
  /** GET_ID answer; default the file's name, cut to 20 bytes. */
  id?: string;
}

export class VirtioBlock implements VirtioDevice {
  readonly deviceId = DeviceId.Block;
  readonly queueMaxSizes = [QUEUE_SIZE];
  readonly features: bigint;
  readonly config = new Uint8Array(CONFIG_BYTES);
  readonly mmio: MmioTransport;
  private readonly ram: GuestMemory;
  private readonly file: BlockFile;
  private readonly idBytes = new Uint8Array(BLK_ID_BYTES);

  constructor(
    readonly shared: VirtioBlockShared,
    env: VirtioEnv,
  ) {
    this.features = BLK_F_SEG_MAX | BLK_F_FLUSH | (shared.readOnly ? BLK_F_RO : 0n);
    const cfg = new DataView(this.config.buffer);
    cfg.setBigUint64(0, BigInt(shared.sectors), true); // capacity
    cfg.setUint32(12, SEG_MAX, true);
    this.idBytes.set(new TextEncoder().encode(shared.id).subarray(0, BLK_ID_BYTES));
    this.file = new BlockFile(shared);
    this.ram = env.memory;
    this.mmio = new MmioTransport(shared.base, shared.transport, this, this.ram, env);
  }

  /** Opens the file (close it with VirtioBlock.close(shared) when the VM is gone). */
  static createShared(opts: VirtioBlockOptions): VirtioBlockShared {
    return {
      base: opts.base,
      transport: createTransportState([QUEUE_SIZE]),
      id: opts.id ?? basename(opts.path),
      ...openBlockFile(opts.path, opts.readOnly ?? false),
    };
  }

  static create(opts: VirtioBlockOptions, env: VirtioEnv): VirtioBlock {
    return new VirtioBlock(VirtioBlock.createShared(opts), env);
  }

  static close(shared: VirtioBlockShared): void {
    closeSync(shared.fd);
  }

  maxChainBytes(): number {
    return MAX_CHAIN_BYTES;
  }

  process(q: SplitQueue): void {
    for (let i = 0; i < q.size; i++) {
      const chain = q.pop();
      if (!chain) return;
      const req = parseBlockRequest(this.ram, chain);
      const { status, used } = this.execute(req);
      req.status.write(0, Uint8Array.of(status));
      q.addUsed(chain.head, used);
    }
  }

  reset(): void {}

  /** Runs one request; `used` is how many writable bytes the guest may look at. */
  private execute(req: BlockRequest): { status: number; used: number } {
    switch (req.kind) {
      case 'read': {
        const used = req.data.length + 1;
        const pos = this.position(req.sector, req.data.length);
        if (pos === undefined) return { status: BLK_S_IOERR, used };
        return { status: this.io(() => this.file.read(req.data.views(), pos)), used };
      }
      case 'write': {
        const pos = this.position(req.sector, req.data.length);
        if (this.shared.readOnly || pos === undefined) return { status: BLK_S_IOERR, used: 1 };
        return { status: this.io(() => this.file.write(req.data.views(), pos)), used: 1 };
      }
      case 'flush':
        // Read-only: no write of ours to make durable, so OK without an fsync.
        return { status: this.shared.readOnly ? BLK_S_OK : this.io(() => this.file.flush()), used: 1 };
      case 'get-id':
        req.data.fill(0);
        req.data.write(0, this.idBytes.subarray(0, Math.min(BLK_ID_BYTES, req.data.length)));
        return { status: BLK_S_OK, used: req.data.length + 1 };
      case 'unsupported':
        return { status: BLK_S_UNSUPP, used: 1 };
    }
  }

  /** Byte offset of a transfer, or undefined when it is not whole sectors inside the disk. */
  private position(sector: bigint, len: number): number | undefined {
    if (len % SECTOR_SIZE !== 0) return undefined;
    const end = sector + BigInt(len / SECTOR_SIZE);
    if (end > BigInt(this.shared.sectors)) return undefined;
    return Number(sector) * SECTOR_SIZE;
  }

  private io(fn: () => void): number {
    try {
      fn();
      return BLK_S_OK;
    } catch {
      return BLK_S_IOERR;
    }
  }
}

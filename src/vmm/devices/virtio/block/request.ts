// virtio-blk requests: a chain parsed once into what to do, where, and where the status goes.
import type { GuestMemory } from '../../../memory.ts';
import type { DescriptorChain } from '../chain.ts';
import { GuestInputError } from '../errors.ts';
import { ReadableBuffers, WritableBuffers } from '../iovec.ts';

export const BLK_T_IN = 0;
export const BLK_T_OUT = 1;
export const BLK_T_FLUSH = 4;
export const BLK_T_GET_ID = 8;
export const BLK_S_OK = 0;
export const BLK_S_IOERR = 1;
export const BLK_S_UNSUPP = 2;
export const SECTOR_SIZE = 512;
export const BLK_ID_BYTES = 20;
/** struct virtio_blk_req's header: le32 type, le32 reserved, le64 sector. */
export const BLK_HEADER_BYTES = 16;

export type BlockRequest =
  | { kind: 'read'; sector: bigint; data: WritableBuffers; status: WritableBuffers }
  | { kind: 'write'; sector: bigint; data: ReadableBuffers; status: WritableBuffers }
  | { kind: 'flush'; status: WritableBuffers }
  | { kind: 'get-id'; data: WritableBuffers; status: WritableBuffers }
  | { kind: 'unsupported'; type: number; status: WritableBuffers };

/**
 * Header in the first 16 readable bytes, status in the last writable byte, data between:
 * readable after the header for writes, writable before the status for reads and GET_ID.
 */
export function parseBlockRequest(ram: GuestMemory, chain: DescriptorChain): BlockRequest {
  if (chain.readableLen < BLK_HEADER_BYTES) throw new GuestInputError('request', `virtio-blk request with a ${chain.readableLen}-byte header`);
  if (chain.writableLen < 1) throw new GuestInputError('request', 'virtio-blk request with no status byte');
  const readable = ReadableBuffers.of(ram, chain);
  const writable = WritableBuffers.of(ram, chain);
  const header = new DataView(readable.read(0, BLK_HEADER_BYTES).buffer);
  const type = header.getUint32(0, true);
  const sector = header.getBigUint64(8, true);
  const status = writable.slice(writable.length - 1, 1);
  const inData = () => writable.slice(0, writable.length - 1);
  switch (type) {
    case BLK_T_IN:
      return { kind: 'read', sector, data: inData(), status };
    case BLK_T_OUT:
      return { kind: 'write', sector, data: readable.slice(BLK_HEADER_BYTES), status };
    case BLK_T_FLUSH:
      return { kind: 'flush', status };
    case BLK_T_GET_ID:
      return { kind: 'get-id', data: inData(), status };
    default:
      return { kind: 'unsupported', type, status };
  }
}

// Malformed guest input: the device stops (DEVICE_NEEDS_RESET) and the VMM carries on.

/** What was wrong with what the guest handed the device. */
export const FAULTS = [
  'queue-layout', // QueueReady with a bad size or rings outside RAM / misaligned
  'queue-index', // QueueNotify of a queue the device does not have
  'avail-index', // the available index ran more than a queue ahead
  'head-index', // an available ring entry past the descriptor table
  'descriptor-index', // a `next` past the (indirect) table
  'descriptor-loop', // more descriptors than the table holds
  'address', // a buffer outside guest RAM
  'chain-length', // total bytes over 2^32 or the device's cap
  'indirect-not-negotiated',
  'indirect-with-next',
  'indirect-table', // length 0, not a multiple of 16, or too many entries
  'indirect-nested',
  'write-order', // a device-readable buffer after a device-writable one
  'request', // the device could not make sense of the request itself
  'internal', // anything else thrown while handling guest input
] as const;
export type Fault = (typeof FAULTS)[number];

export class GuestInputError extends Error {
  constructor(
    readonly fault: Fault,
    detail: string,
  ) {
    super(`${fault}: ${detail}`);
    this.name = 'GuestInputError';
  }
}

export function faultOf(e: unknown): Fault {
  return e instanceof GuestInputError ? e.fault : 'internal';
}

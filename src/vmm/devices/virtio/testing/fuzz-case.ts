// What a device's fuzz case gives the fuzzer (its requests and model checks), what the fuzzer
// counts, and the mutations it applies to chains and indirect tables.
import type { Fault } from '../errors.ts';
import type { MmioTransport } from '../mmio.ts';
import type { Rng } from './fuzz-kit.ts';

/** What one valid (or device-malformed) request puts in a chain. */
export interface Request {
  queue: number;
  readable: Uint8Array;
  writableLen: number;
  /** Malformed for the device type itself: expect needs-reset. */
  malformed?: boolean;
  /** Host side before the kick (input for receive queues: the device must pop). */
  before?: () => void;
  /** After the valid chain was used: what the device did, against the model. */
  check?: (written: Uint8Array, usedLen: number) => void;
}

export interface Case {
  name: string;
  mmio: MmioTransport;
  queueCount: number;
  deviceFeatures: bigint;
  request(rng: Rng): Request;
  /** Host-side work after each kick (drain output, take frames). */
  pump(): void;
  /** After random rings or registers: re-align the model with the device. */
  resync(): void;
  /** After a rejected chain: nothing may have come out. */
  quiet(): void;
  chaosHost?(rng: Rng): void;
  finish?(): void;
}

export interface Stats {
  valid: number;
  rejected: number;
  chaos: number;
  registerOps: number;
  memoryErrors: number;
  skipped: number;
  faults: Map<Fault | 'none', number>;
  mutations: Map<string, number>;
  ms: number;
}

/** Chains built to be valid or mutated to one known fault, each checked for its outcome. */
export function directed(s: Stats): number {
  return s.valid + s.rejected;
}

export type Mutation = 'none' | 'oob-addr' | 'huge-len' | 'loop' | 'next-range' | 'write-order' | 'head-range' | 'avail-jump' | 'nested-indirect' | 'indirect-next' | 'indirect-len';
export const CHAIN_MUTATIONS: Mutation[] = ['oob-addr', 'huge-len', 'loop', 'next-range', 'write-order', 'head-range', 'avail-jump'];
export const TABLE_MUTATIONS: Mutation[] = ['nested-indirect', 'indirect-next', 'indirect-len'];

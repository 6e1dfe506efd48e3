// What a virtio device model gives the transport, and what the VMM gives every device.
import type { GuestMemory } from '../../memory.ts';
import type { SplitQueue } from './queue.ts';

export interface VirtioEnv {
  /** This thread's handle on guest RAM (GuestMemory.attach(regions) in a worker). */
  memory: GuestMemory;
  /**
   * Raises the device's interrupt: the VMM writes the eventfd it registered with KVM_IRQFD
   * for the device's GSI. Called on whichever thread did the work, with no lock held.
   */
  interrupt: () => void;
  /** Hears, once per thread, why the device entered DEVICE_NEEDS_RESET (for logs). */
  onNeedsReset?: (reason: string) => void;
}

export interface VirtioDevice {
  readonly deviceId: number;
  /** Largest size of each queue; their count is the device's queue count. */
  readonly queueMaxSizes: readonly number[];
  /** Device-type feature bits offered; the transport adds VERSION_1 and INDIRECT_DESC. */
  readonly features: bigint;
  /** Configuration space; read-only to the driver. */
  readonly config: Uint8Array;
  /** Largest total length of one chain on queue `q`. */
  maxChainBytes(q: number): number;
  /**
   * Works queue `queue` (the driver notified it, or the host kicked it). Runs with the
   * transport lock held; throws GuestInputError on malformed input. Must not block.
   */
  process(queue: SplitQueue): void;
  /** The driver reset the device. Lock held. */
  reset(): void;
}

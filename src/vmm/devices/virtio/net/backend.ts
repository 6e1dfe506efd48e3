// Where a virtio-net device's frames go. Backends live on the VMM's thread: VirtioNet.connect()
// pumps the guest's frames to send() and feeds onFrame()'s frames to the guest.
import { VmmError, VmmStateError } from '../../../errors.ts';

export interface NetBackend {
  /** An Ethernet frame (no virtio header) the guest sent. */
  send(frame: Uint8Array): void;
  /** Registers where the backend delivers frames for the guest. */
  onFrame(cb: (frame: Uint8Array) => void): void;
  /** Releases what the backend holds (a TAP's fd); called when the device's link stops. */
  close?(): void;
}

/** Answers a frame from the guest with frames back to it (or nothing). */
export type Responder = (frame: Uint8Array) => Uint8Array | readonly Uint8Array[] | undefined;

interface Waiter {
  match: (frame: Uint8Array) => boolean;
  resolve: (frame: Uint8Array) => void;
}

/** A host the guest can talk to, in this process, no privileges: the test plays the other end. */
export class InProcessPeer implements NetBackend {
  /** Every frame the guest sent, oldest first. */
  readonly received: Uint8Array[] = [];
  private deliver: ((frame: Uint8Array) => void) | undefined;
  private readonly responders = new Set<Responder>();
  private waiters: Waiter[] = [];

  send(frame: Uint8Array): void {
    this.received.push(frame);
    for (const r of this.responders) {
      const out = r(frame);
      if (out instanceof Uint8Array) this.inject(out);
      else if (out) for (const f of out) this.inject(f);
    }
    const ready = this.waiters.filter((w) => w.match(frame));
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve(frame);
  }

  onFrame(cb: (frame: Uint8Array) => void): void {
    this.deliver = cb;
  }

  /** A frame for the guest. */
  inject(frame: Uint8Array): void {
    if (!this.deliver) throw new VmmStateError('this peer is not connected to a device (VirtioNet.connect)');
    this.deliver(frame);
  }

  /** Runs `r` on every frame the guest sends from now on; the returned function removes it. */
  respond(r: Responder): () => void {
    this.responders.add(r);
    return () => this.responders.delete(r);
  }

  /** The first frame (already received or still to come) that `match` accepts. */
  waitFor(match: (frame: Uint8Array) => boolean, timeoutMs = 10_000): Promise<Uint8Array> {
    const seen = this.received.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new VmmError('VMM_TIMEOUT', `no matching frame from the guest within ${timeoutMs} ms (${this.received.length} received)`));
      }, timeoutMs);
      const waiter: Waiter = {
        match,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      this.waiters.push(waiter);
    });
  }
}

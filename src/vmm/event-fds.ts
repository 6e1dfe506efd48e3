// The eventfds a VM signals between its threads (kill, parked, thaw, latch) and any others it
// makes (irqfds), owned in one place: each closed once, and never signalled or drained after,
// when its number may already belong to another file.
import { close, EFD_CLOEXEC, EFD_NONBLOCK, errno, eventfd, eventfdDrain, eventfdSignal, OsError } from './sys/libc.ts';

export class EventFds {
  private readonly owned: number[] = [];
  private isClosed = false;
  /** Wakes parked vCPUs to die. */
  readonly kill: number;
  /** A vCPU parked for a freeze. */
  readonly parked: number;
  /** Frozen vCPUs may resume. */
  readonly thaw: number;
  /** A watch slot latched (one edge per slot). */
  readonly latch: number;

  constructor() {
    try {
      this.kill = this.create();
      this.parked = this.create();
      this.thaw = this.create();
      this.latch = this.create();
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** Another eventfd (an irqfd), closed with the rest. */
  create(): number {
    const fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) throw new OsError('eventfd', errno());
    this.owned.push(fd);
    return fd;
  }

  signal(fd: number): void {
    if (!this.isClosed) eventfdSignal(fd);
  }

  /** The count pending on `fd` (0 once closed). */
  drain(fd: number): bigint {
    return this.isClosed ? 0n : eventfdDrain(fd);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const fd of this.owned) close(fd);
  }
}

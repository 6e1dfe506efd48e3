// A virtio-net backend on a host TAP device: the guest's frames become the host kernel's, so
// the host (or whatever the TAP is bridged to) is the guest's link partner.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { check, close, EAGAIN, errno, ioctlPtr, O_CLOEXEC, O_RDWR, open, OsError, read, write } from '../../../sys/libc.ts';
import type { NetBackend } from './backend.ts';
import { HostResourceError, VmmConfigError, VmmStateError } from '../../../errors.ts';

// linux/if_tun.h and linux/if.h
const TUNSETIFF = 0x400454ca; // _IOW('T', 202, int)
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
const IFNAMSIZ = 16;
const IFREQ_SIZE = 40;
const O_NONBLOCK = 0o4000;
const MAX_FRAME = 65_536;
const EIO = 5;

export interface TapOptions {
  /** Interface name; a `%d` in it lets the kernel pick a free number. Default `schedvm%d`. */
  name?: string;
  /** An address (CIDR) the host takes on the TAP, e.g. `10.0.2.2/24`; set with iproute2. */
  hostAddress?: string;
  /** How often frames from the host are collected for the guest. */
  pollMs?: number;
}

/** struct ifreq for TUNSETIFF: the name, then the flags (a short) at offset IFNAMSIZ. */
export function tunSetIffRequest(name: string, flags: number): Uint8Array {
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length === 0 || bytes.length >= IFNAMSIZ || bytes.includes(0) || /[\s/]/.test(name)) {
    throw new VmmConfigError(`TAP name '${name}': must be 1..${IFNAMSIZ - 1} bytes, without spaces or '/'`);
  }
  const req = new Uint8Array(IFREQ_SIZE);
  req.set(bytes, 0);
  new DataView(req.buffer).setUint16(IFNAMSIZ, flags, true);
  return req;
}

/** The interface name the kernel wrote back into an ifreq. */
export function ifreqName(req: Uint8Array): string {
  const end = req.subarray(0, IFNAMSIZ).indexOf(0);
  return Buffer.from(req.subarray(0, end < 0 ? IFNAMSIZ : end)).toString('utf8');
}

function tapHint(code: string): string | undefined {
  if (code === 'ENOENT') return 'no /dev/net/tun: load the tun module (modprobe tun)';
  if (code === 'EPERM' || code === 'EACCES') {
    return 'creating a TAP needs CAP_NET_ADMIN; or name one you own: ip tuntap add NAME mode tap user $USER && ip link set NAME up';
  }
  if (code === 'EBUSY') return 'another process has this TAP open';
  return undefined;
}

export class TapBackend implements NetBackend {
  private fd = -1;
  private timer: NodeJS.Timeout | undefined;
  private ifname = '';
  /** Frames the host kernel would not take (its queue was full): dropped, as a NIC would. */
  dropped = 0;

  constructor(private readonly options: TapOptions = {}) {}

  /** The interface's name on the host, once a device has joined this backend. */
  get name(): string {
    return this.ifname;
  }

  /** Opens the TAP (a device joins the backend) and starts collecting the host's frames. */
  onFrame(cb: (frame: Uint8Array) => void): void {
    if (this.fd >= 0) throw new VmmStateError(`TAP ${this.ifname} already has a device`);
    const wanted = this.options.name ?? 'schedvm%d';
    const existed = !wanted.includes('%') && existsSync(`/sys/class/net/${wanted}`);
    const req = tunSetIffRequest(wanted, IFF_TAP | IFF_NO_PI);
    const fd = check(open('/dev/net/tun', O_RDWR | O_NONBLOCK | O_CLOEXEC), 'opening /dev/net/tun', tapHint);
    try {
      check(ioctlPtr(fd, TUNSETIFF, req), `TUNSETIFF ${wanted}`, tapHint);
      this.ifname = ifreqName(req);
      // A TAP this backend created is down; one the user made is theirs to configure.
      if (this.options.hostAddress) iproute(['addr', 'add', this.options.hostAddress, 'dev', this.ifname]);
      if (!existed || this.options.hostAddress) iproute(['link', 'set', this.ifname, 'up']);
    } catch (e) {
      close(fd);
      throw e;
    }
    this.fd = fd;
    const buf = new Uint8Array(MAX_FRAME);
    this.timer = setInterval(() => {
      for (;;) {
        const n = read(this.fd, buf, buf.length);
        if (n <= 0) break; // EAGAIN: nothing more now
        cb(buf.slice(0, n));
      }
    }, this.options.pollMs ?? 2);
    this.timer.unref();
  }

  send(frame: Uint8Array): void {
    if (this.fd < 0) return;
    if (write(this.fd, frame, frame.length) < 0) {
      const err = errno();
      // EAGAIN: the host's queue is full; EIO: the link is down. Either way the frame is lost.
      if (err === EAGAIN || err === EIO) this.dropped++;
      else throw new OsError(`writing a frame to TAP ${this.ifname}`, err);
    }
  }

  /** Closes the TAP: one this backend created disappears with it. Idempotent. */
  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.fd >= 0) close(this.fd);
    this.fd = -1;
  }
}

function iproute(args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim();
    throw new HostResourceError(`ip ${args.join(' ')} failed: ${stderr || (e as Error).message} (iproute2 sets up the TAP)`, { cause: e });
  }
}

// The libc calls the VMM makes, through koffi. Nothing else in the VMM loads libc.
import { VmmError } from '../errors.ts';
import koffi from 'koffi';

const libc = koffi.load('libc.so.6');

export const O_RDWR = 0o2;
export const O_CLOEXEC = 0o2000000;
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_ANONYMOUS = 0x20;
export const MAP_NORESERVE = 0x4000;
export const EFD_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = 0o4000;
export const POLLIN = 0x1;
/** struct pollfd { int fd; short events; short revents; }: its size and offsets. */
export const POLLFD_SIZE = 8;
export const POLLFD_FD = 0;
export const POLLFD_EVENTS = 4;
export const POLLFD_REVENTS = 6;
export const SIGUSR2 = 12;
/** x86_64 syscall numbers (glibc has no gettid/tgkill wrappers before 2.30). */
export const SYS_gettid = 186;
export const SYS_tgkill = 234;

export const open = libc.func('int open(const char *path, int flags)') as (path: string, flags: number) => number;
export const close = libc.func('int close(int fd)') as (fd: number) => number;
/** ioctl with a pointer argument (a Buffer/TypedArray, or null). */
export const ioctlPtr = libc.func('int ioctl(int fd, unsigned long req, void *arg)') as (fd: number, req: number, arg: Uint8Array | null) => number;
/** ioctl with an integer argument (KVM_CREATE_VCPU, KVM_CHECK_EXTENSION, ...). */
export const ioctlInt = libc.func('ioctl', 'int', ['int', 'unsigned long', 'unsigned long']) as (fd: number, req: number, arg: number) => number;
export const mmap = libc.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off)') as (addr: null, len: number, prot: number, flags: number, fd: number, off: number) => bigint;
export const munmap = libc.func('int munmap(void *addr, size_t len)') as (addr: bigint, len: number) => number;
export const madvise = libc.func('int madvise(void *addr, size_t len, int advice)') as (addr: bigint, len: number, advice: number) => number;
export const MADV_HUGEPAGE = 14;
export const eventfd = libc.func('int eventfd(unsigned int initval, int flags)') as (init: number, flags: number) => number;
export const read = libc.func('long read(int fd, void *buf, size_t n)') as (fd: number, buf: Uint8Array, n: number) => number;
export const write = libc.func('long write(int fd, const void *buf, size_t n)') as (fd: number, buf: Uint8Array, n: number) => number;
export const poll = libc.func('int poll(void *fds, unsigned long nfds, int timeout)') as (fds: Uint8Array, nfds: number, timeoutMs: number) => number;
const syscall3 = libc.func('syscall', 'long', ['long', 'long', 'long', 'long']) as (nr: number, a: number, b: number, c: number) => number;

export function gettid(): number {
  return syscall3(SYS_gettid, 0, 0, 0);
}
export function tgkill(pid: number, tid: number, sig: number): number {
  return syscall3(SYS_tgkill, pid, tid, sig);
}

export function errno(): number {
  return koffi.errno();
}

const errnoNames = new Map<number, string>(Object.entries(koffi.os.errno as Record<string, number>).map(([name, value]) => [value, name]));
export function errnoName(code: number): string {
  return errnoNames.get(code) ?? `errno ${code}`;
}
export const EINTR = 4;
export const EAGAIN = 11;

/** An ArrayBuffer over host memory at `addr` (no copy). */
export function hostView(addr: bigint, len: number): ArrayBuffer {
  return koffi.view(addr as unknown as never, len) as ArrayBuffer;
}

/** Raises an OsError when a libc call returned -1. */
export function check(ret: number, what: string, hint?: (errnoName: string) => string | undefined): number {
  if (ret < 0) throw new OsError(what, errno(), hint);
  return ret;
}

/** A failed system call: `code` is its errno's name (as Node's own errors), `errno` the number. */
export class OsError extends VmmError {
  readonly errno: number;
  constructor(what: string, err: number, hint?: (errnoName: string) => string | undefined) {
    const code = errnoName(err);
    const extra = hint?.(code);
    super(code, `${what} failed: ${code}${extra ? ` (${extra})` : ''}`);
    this.name = 'OsError';
    this.errno = err;
  }
}

// eventfd helpers: an 8-byte counter written and read in host byte order.
const one = new BigUint64Array([1n]);
const oneBytes = new Uint8Array(one.buffer);
export function eventfdSignal(fd: number): void {
  write(fd, oneBytes, 8); // EAGAIN on a saturated counter is fine: an edge is already pending.
}
export function eventfdDrain(fd: number): bigint {
  const b = new BigUint64Array(1);
  const r = read(fd, new Uint8Array(b.buffer), 8);
  return r === 8 ? b[0]! : 0n;
}

/** poll() on fds for POLLIN; returns the fds that are readable. */
export function pollIn(fds: number[], timeoutMs: number): number[] {
  const buf = new Uint8Array(POLLFD_SIZE * fds.length);
  const dv = new DataView(buf.buffer);
  fds.forEach((fd, i) => {
    dv.setInt32(i * POLLFD_SIZE + POLLFD_FD, fd, true);
    dv.setInt16(i * POLLFD_SIZE + POLLFD_EVENTS, POLLIN, true);
  });
  const r = poll(buf, fds.length, timeoutMs);
  if (r <= 0) return [];
  return fds.filter((_, i) => (dv.getInt16(i * POLLFD_SIZE + POLLFD_REVENTS, true) & POLLIN) !== 0);
}

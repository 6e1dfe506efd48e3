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
/** mmap's (void *)-1, as koffi returns it. */
export const MAP_FAILED = 0xffffffffffffffffn;
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
export const SYS_futex = 202;
export const PROT_EXEC = 0x4;
const FUTEX_WAIT_PRIVATE = 128;
const FUTEX_WAKE_PRIVATE = 129;
const PTHREAD_CREATE_DETACHED = 1;
/** glibc's pthread_attr_t is 56 bytes on x86_64; room to spare. */
const PTHREAD_ATTR_SIZE = 64;

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
const futexCall = libc.func('syscall', 'long', ['long', 'uint64_t', 'long', 'long', 'void *']) as (nr: number, addr: bigint, op: number, val: number, timeout: Uint8Array | null) => number;
export const mprotect = libc.func('int mprotect(uint64_t addr, size_t len, int prot)') as (addr: bigint, len: number, prot: number) => number;
const pthreadAttrInit = libc.func('int pthread_attr_init(void *attr)') as (attr: Uint8Array) => number;
const pthreadAttrDestroy = libc.func('int pthread_attr_destroy(void *attr)') as (attr: Uint8Array) => number;
const pthreadAttrSetstacksize = libc.func('int pthread_attr_setstacksize(void *attr, size_t size)') as (attr: Uint8Array, size: number) => number;
const pthreadAttrSetdetachstate = libc.func('int pthread_attr_setdetachstate(void *attr, int state)') as (attr: Uint8Array, state: number) => number;
// The start routine is machine code at a raw address, so it goes in as an integer.
const pthreadCreate = libc.func('int pthread_create(void *thread, void *attr, uint64_t start, uint64_t arg)') as (thread: Uint8Array, attr: Uint8Array, start: bigint, arg: bigint) => number;

/** Sleeps while the int32 at `addr` holds `expected`, at most `timeoutMs`; returns early on a wake or a signal. */
export function futexWait(addr: bigint, expected: number, timeoutMs: number): void {
  const ts = new BigInt64Array([BigInt(Math.floor(timeoutMs / 1000)), BigInt(Math.min(999_999_999, Math.floor((timeoutMs % 1000) * 1e6)))]);
  futexCall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, expected, new Uint8Array(ts.buffer));
}
/** Wakes one thread sleeping on the int32 at `addr`. */
export function futexWake(addr: bigint): void {
  futexCall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, 1, null);
}

/** Starts a detached thread running the machine code at `start` with `arg` in its first argument register. */
export function startNativeThread(start: bigint, arg: bigint, stackBytes: number): void {
  const attr = new Uint8Array(PTHREAD_ATTR_SIZE);
  const initFailed = pthreadAttrInit(attr); // pthread calls return their errno
  if (initFailed) throw new OsError('pthread_attr_init', initFailed);
  try {
    const failed = pthreadAttrSetstacksize(attr, stackBytes) || pthreadAttrSetdetachstate(attr, PTHREAD_CREATE_DETACHED) || pthreadCreate(new Uint8Array(8), attr, start, arg);
    if (failed) throw new OsError('pthread_create', failed);
  } finally {
    pthreadAttrDestroy(attr);
  }
}

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

import { beforeAll, describe, expect, it } from 'vitest';
import { probeC } from './c-probe.testing.ts';
import * as libc from './libc.ts';

// Each libc constant the VMM hard-codes, against the system's own headers.
const checks: Array<[string, number]> = [
  ['O_RDWR', libc.O_RDWR],
  ['O_CLOEXEC', libc.O_CLOEXEC],
  ['PROT_READ', libc.PROT_READ],
  ['PROT_WRITE', libc.PROT_WRITE],
  ['MAP_SHARED', libc.MAP_SHARED],
  ['MAP_PRIVATE', libc.MAP_PRIVATE],
  ['MAP_ANONYMOUS', libc.MAP_ANONYMOUS],
  ['MAP_NORESERVE', libc.MAP_NORESERVE],
  ['MADV_HUGEPAGE', libc.MADV_HUGEPAGE],
  ['EFD_CLOEXEC', libc.EFD_CLOEXEC],
  ['EFD_NONBLOCK', libc.EFD_NONBLOCK],
  ['POLLIN', libc.POLLIN],
  ['sizeof(struct pollfd)', libc.POLLFD_SIZE],
  ['offsetof(struct pollfd, fd)', libc.POLLFD_FD],
  ['offsetof(struct pollfd, events)', libc.POLLFD_EVENTS],
  ['offsetof(struct pollfd, revents)', libc.POLLFD_REVENTS],
  ['SIGUSR2', libc.SIGUSR2],
  ['SYS_gettid', libc.SYS_gettid],
  ['SYS_tgkill', libc.SYS_tgkill],
  ['EINTR', libc.EINTR],
  ['EAGAIN', libc.EAGAIN],
];

describe('libc constants match the system headers', () => {
  let system: number[];
  beforeAll(() => {
    system = probeC(
      ['errno.h', 'fcntl.h', 'poll.h', 'signal.h', 'sys/eventfd.h', 'sys/mman.h', 'sys/syscall.h'],
      checks.map(([expr]) => expr),
    );
  });

  it.each(checks.map(([expr, ours], i) => ({ expr, ours, i })))('$expr', ({ ours, i }) => {
    expect(ours).toBe(system[i]);
  });
});

// Thin typed wrappers, one method per KVM ioctl: the only place that issues them.
import koffi from 'koffi';
import { CapabilityError } from './errors.ts';
import { guestPhysToU64, type GuestPhysAddr } from './guest-address.ts';
import * as abi from './sys/kvm-abi.ts';
import { check, close, EINTR, errno, errnoName, hostView, ioctlInt, ioctlPtr, mmap, munmap, open, O_CLOEXEC, O_RDWR, OsError, MAP_FAILED, MAP_SHARED, PROT_READ, PROT_WRITE } from './sys/libc.ts';

export class KvmError extends OsError {
  readonly ioctl: string;
  constructor(ioctl: string, err: number) {
    super(ioctl, err, hintFor);
    this.name = 'KvmError';
    this.ioctl = ioctl;
  }
}

function hintFor(code: string): string | undefined {
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return 'is /dev/kvm readable by this user?';
    case 'ENOENT':
    case 'ENODEV':
    case 'ENXIO':
      return 'this host has no KVM: run through `npx schedvm sandbox -- ...`';
    case 'EEXIST':
      return 'that vCPU id or memory slot already exists';
    default:
      return undefined;
  }
}

/**
 * Issues an ioctl other than KVM_RUN, again while it fails with EINTR: a signal that lands
 * during a slow one (KVM_CREATE_VM, under a profiler's SIGPROF) interrupts it, and it is
 * safe to repeat, as QEMU does. Any other failure is a KvmError.
 */
export function retryInterrupted(name: string, call: () => number, lastErrno: () => number = errno): number {
  for (;;) {
    const r = call();
    if (r >= 0) return r;
    const err = lastErrno();
    if (err !== EINTR) throw new KvmError(name, err);
  }
}
/** An ioctl with a pointer argument on any KVM fd (retried on EINTR; a KvmError otherwise). */
export function ioctl(fd: number, name: abi.IoctlName, arg: Uint8Array | null): number {
  return retryInterrupted(name, () => ioctlPtr(fd, abi.ioctls[name], arg));
}
function ioctlWithInt(fd: number, name: abi.IoctlName, arg: number): number {
  return retryInterrupted(name, () => ioctlInt(fd, abi.ioctls[name], arg));
}

/** Every u64 field koffi decoded as number-or-bigint, as bigint. */
type Big<T> = { [K in keyof T]: T[K] extends number | bigint ? bigint : T[K] extends object ? Big<T[K]> : T[K] };
export function toBig<T>(v: T): Big<T> {
  if (typeof v === 'number') return BigInt(v) as Big<T>;
  if (Array.isArray(v)) return v.map(toBig) as Big<T>;
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>, toBig) as Big<T>;
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toBig(x)])) as Big<T>;
  }
  return v as Big<T>;
}

const regNames = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rsp', 'rbp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip', 'rflags'] as const;
export type KvmRegs = Record<(typeof regNames)[number], bigint>;
export interface CpuidEntry {
  function: number;
  index: number;
  flags: number;
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}
export const CPUID_ENTRY_SIZE = koffi.sizeof(abi.kvm_cpuid_entry2);

function decodeCpuid(buf: Uint8Array): CpuidEntry[] {
  const n = new DataView(buf.buffer, buf.byteOffset).getUint32(0, true);
  return Array.from({ length: n }, (_, i) => {
    const { function: fn, index, flags, eax, ebx, ecx, edx } = koffi.decode(buf, abi.KVM_CPUID2_HEADER + i * CPUID_ENTRY_SIZE, abi.kvm_cpuid_entry2) as CpuidEntry;
    return { function: fn, index, flags, eax, ebx, ecx, edx };
  });
}

export class Kvm {
  private constructor(readonly fd: number) {}

  static open(path = '/dev/kvm'): Kvm {
    const fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) throw new KvmError(`open(${path})`, errno());
    const kvm = new Kvm(fd);
    const version = kvm.apiVersion();
    if (version !== abi.KVM_API_VERSION) {
      kvm.close();
      throw new CapabilityError('KVM_GET_API_VERSION', `KVM API version ${version}, expected ${abi.KVM_API_VERSION}`);
    }
    return kvm;
  }

  apiVersion(): number {
    return ioctl(this.fd, 'KVM_GET_API_VERSION', null);
  }
  checkExtension(cap: number): number {
    return ioctlWithInt(this.fd, 'KVM_CHECK_EXTENSION', cap);
  }
  /** The capability's value, or a CapabilityError naming it and `forWhat` needs it. */
  requireExtension(cap: number, name: string, forWhat: string): number {
    const value = this.checkExtension(cap);
    if (value <= 0) throw new CapabilityError(name, `this KVM has no ${name}: ${forWhat} is unavailable`);
    return value;
  }
  vcpuMmapSize(): number {
    return ioctl(this.fd, 'KVM_GET_VCPU_MMAP_SIZE', null);
  }
  supportedCpuid(max = 256): CpuidEntry[] {
    const buf = new Uint8Array(abi.KVM_CPUID2_HEADER + max * CPUID_ENTRY_SIZE);
    new DataView(buf.buffer).setUint32(0, max, true);
    ioctl(this.fd, 'KVM_GET_SUPPORTED_CPUID', buf);
    return decodeCpuid(buf);
  }
  createVm(): VmFd {
    return new VmFd(ioctl(this.fd, 'KVM_CREATE_VM', null));
  }
  close(): void {
    close(this.fd);
  }
}

export interface MemoryRegion {
  slot: number;
  guestPhysAddr: GuestPhysAddr;
  /** 0 deletes the slot. */
  size: number;
  hostAddr: bigint;
  /** Guest writes exit to userspace as MMIO writes (KVM_MEM_READONLY). */
  readonly?: boolean;
}

export class VmFd {
  constructor(readonly fd: number) {}

  setUserMemoryRegion(r: MemoryRegion): void {
    const buf = new Uint8Array(koffi.sizeof(abi.kvm_userspace_memory_region));
    koffi.encode(buf, abi.kvm_userspace_memory_region, {
      slot: r.slot,
      flags: r.readonly ? abi.KVM_MEM_READONLY : 0,
      guest_phys_addr: guestPhysToU64(r.guestPhysAddr),
      memory_size: BigInt(r.size),
      userspace_addr: r.hostAddr,
    });
    ioctl(this.fd, 'KVM_SET_USER_MEMORY_REGION', buf);
  }
  setTssAddr(addr: GuestPhysAddr): void {
    ioctlWithInt(this.fd, 'KVM_SET_TSS_ADDR', addr);
  }
  checkExtension(cap: number): number {
    return ioctlWithInt(this.fd, 'KVM_CHECK_EXTENSION', cap);
  }
  /** In-kernel PIC + IOAPIC + per-vCPU LAPICs. Before any vCPU is created. */
  createIrqchip(): void {
    ioctl(this.fd, 'KVM_CREATE_IRQCHIP', null);
  }
  /** In-kernel i8254 PIT; `flags` KVM_PIT_SPEAKER_DUMMY also puts port 0x61 in the kernel. */
  createPit2(flags = 0): void {
    const config = new Uint8Array(abi.KVM_PIT_CONFIG_SIZE);
    new DataView(config.buffer).setUint32(0, flags, true);
    ioctl(this.fd, 'KVM_CREATE_PIT2', config);
  }
  /** Writing to `eventfd` raises (edge) interrupt line `gsi`. */
  irqfd(eventfd: number, gsi: number): void {
    const buf = new Uint8Array(abi.KVM_IRQFD_SIZE);
    const dv = new DataView(buf.buffer);
    dv.setUint32(0, eventfd, true);
    dv.setUint32(4, gsi, true);
    ioctl(this.fd, 'KVM_IRQFD', buf);
  }
  /**
   * Guest writes of `len` bytes of `datamatch` to MMIO address `addr` signal `eventfd` inside
   * KVM: the vCPU goes straight back into the guest, no exit to this process.
   */
  ioeventfd(eventfd: number, addr: GuestPhysAddr, len: number, datamatch: bigint): void {
    const buf = new Uint8Array(abi.KVM_IOEVENTFD_SIZE);
    const dv = new DataView(buf.buffer);
    const f = abi.kvmIoeventfd;
    dv.setBigUint64(f.datamatch, datamatch, true);
    dv.setBigUint64(f.addr, guestPhysToU64(addr), true);
    dv.setUint32(f.len, len, true);
    dv.setInt32(f.fd, eventfd, true);
    dv.setUint32(f.flags, abi.KVM_IOEVENTFD_FLAG_DATAMATCH, true);
    ioctl(this.fd, 'KVM_IOEVENTFD', buf);
  }
  /**
   * Guest writes to ports [port, port + size) go to the coalesced ring (coalesced-ring.ts)
   * instead of exiting: the vCPU goes straight back into the guest.
   */
  coalescePio(port: number, size: number): void {
    const buf = new Uint8Array(abi.KVM_COALESCED_ZONE_SIZE);
    const dv = new DataView(buf.buffer);
    dv.setBigUint64(abi.kvmCoalescedZone.addr, BigInt(port), true);
    dv.setUint32(abi.kvmCoalescedZone.size, size, true);
    dv.setUint32(abi.kvmCoalescedZone.pio, 1, true);
    ioctl(this.fd, 'KVM_REGISTER_COALESCED_MMIO', buf);
  }
  /** Call from the thread that will run the vCPU: KVM wants vCPU ioctls from that thread. */
  createVcpu(id: number, mmapSize: number): VcpuFd {
    const fd = ioctlWithInt(this.fd, 'KVM_CREATE_VCPU', id);
    const run = mmap(null, mmapSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (run === 0n || run === MAP_FAILED) {
      const err = errno();
      close(fd);
      throw new KvmError('mmap(kvm_run)', err);
    }
    return new VcpuFd(fd, run, mmapSize);
  }
  close(): void {
    close(this.fd);
  }
}

/** What KVM_RUN returned: 0, or the errno (EINTR/EAGAIN are normal, the rest are errors). */
export type RunStatus = number;

export class VcpuFd {
  /** The mmap'd struct kvm_run. */
  readonly run: DataView;
  readonly runBytes: Uint8Array;
  private closed = false;

  constructor(
    readonly fd: number,
    readonly runAddr: bigint,
    readonly runSize: number,
  ) {
    const ab = hostView(runAddr, runSize);
    this.run = new DataView(ab);
    this.runBytes = new Uint8Array(ab);
  }

  runOnce(): RunStatus {
    return ioctlInt(this.fd, abi.ioctls.KVM_RUN, 0) < 0 ? errno() : 0;
  }
  setImmediateExit(on: boolean): void {
    this.runBytes[abi.kvmRun.immediate_exit] = on ? 1 : 0;
  }
  exitReason(): number {
    return this.run.getUint32(abi.kvmRun.exit_reason, true);
  }

  getRegs(): KvmRegs {
    const buf = new Uint8Array(koffi.sizeof(abi.kvm_regs));
    ioctl(this.fd, 'KVM_GET_REGS', buf);
    return toBig(koffi.decode(buf, abi.kvm_regs) as Record<string, number>) as KvmRegs;
  }
  setRegs(regs: KvmRegs): void {
    const buf = new Uint8Array(koffi.sizeof(abi.kvm_regs));
    koffi.encode(buf, abi.kvm_regs, regs);
    ioctl(this.fd, 'KVM_SET_REGS', buf);
  }
  /** control: KVM_GUESTDBG_* flags; arch: kvm_guest_debug_arch's words as sys/kvm-abi.ts lays it out (x86's DR0..DR7). */
  setGuestDebug(control: number, arch: readonly bigint[]): void {
    const buf = new Uint8Array(koffi.sizeof(abi.kvm_guest_debug));
    koffi.encode(buf, abi.kvm_guest_debug, { control, pad: 0, debugreg: arch });
    ioctl(this.fd, 'KVM_SET_GUEST_DEBUG', buf);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    munmap(this.runAddr, this.runSize);
    close(this.fd);
  }
}

export { errnoName, check };

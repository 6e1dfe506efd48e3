// KVM's userspace ABI for x86_64: ioctl numbers, exit reasons and struct layouts.
// Checked against <linux/kvm.h> by kvm-abi.test.ts (it compiles a C probe).
import koffi, { type TypeObject } from 'koffi';

const KVMIO = 0xae;
const IOC_NONE = 0;
const IOC_WRITE = 1;
const IOC_READ = 2;
function ioc(dir: number, nr: number, size: number): number {
  return ((dir << 30) | (size << 16) | (KVMIO << 8) | nr) >>> 0;
}
const io = (nr: number) => ioc(IOC_NONE, nr, 0);
const iow = (nr: number, size: number) => ioc(IOC_WRITE, nr, size);
const ior = (nr: number, size: number) => ioc(IOC_READ, nr, size);
const iowr = (nr: number, size: number) => ioc(IOC_READ | IOC_WRITE, nr, size);

export const KVM_API_VERSION = 12;

const u64 = 'uint64_t';
const u32 = 'uint32_t';
const u16 = 'uint16_t';
const u8 = 'uint8_t';

export const kvm_regs = koffi.struct(
  'kvm_regs',
  Object.fromEntries(['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rsp', 'rbp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip', 'rflags'].map((r) => [r, u64])),
);
export const kvm_segment = koffi.struct('kvm_segment', {
  base: u64,
  limit: u32,
  selector: u16,
  type: u8,
  present: u8,
  dpl: u8,
  db: u8,
  s: u8,
  l: u8,
  g: u8,
  avl: u8,
  unusable: u8,
  padding: u8,
});
export const kvm_dtable = koffi.struct('kvm_dtable', { base: u64, limit: u16, padding: koffi.array(u16, 3) });
export const kvm_sregs = koffi.struct('kvm_sregs', {
  cs: kvm_segment,
  ds: kvm_segment,
  es: kvm_segment,
  fs: kvm_segment,
  gs: kvm_segment,
  ss: kvm_segment,
  tr: kvm_segment,
  ldt: kvm_segment,
  gdt: kvm_dtable,
  idt: kvm_dtable,
  cr0: u64,
  cr2: u64,
  cr3: u64,
  cr4: u64,
  cr8: u64,
  efer: u64,
  apic_base: u64,
  interrupt_bitmap: koffi.array(u64, 4),
});
export const kvm_fpu = koffi.struct('kvm_fpu', {
  fpr: koffi.array(u8, 128),
  fcw: u16,
  fsw: u16,
  ftwx: u8,
  pad1: u8,
  last_opcode: u16,
  last_ip: u64,
  last_dp: u64,
  xmm: koffi.array(u8, 256),
  mxcsr: u32,
  pad2: u32,
});
export const kvm_userspace_memory_region = koffi.struct('kvm_userspace_memory_region', {
  slot: u32,
  flags: u32,
  guest_phys_addr: u64,
  memory_size: u64,
  userspace_addr: u64,
});
export const kvm_msr_entry = koffi.struct('kvm_msr_entry', { index: u32, reserved: u32, data: u64 });
export const kvm_cpuid_entry2 = koffi.struct('kvm_cpuid_entry2', {
  function: u32,
  index: u32,
  flags: u32,
  eax: u32,
  ebx: u32,
  ecx: u32,
  edx: u32,
  padding: koffi.array(u32, 3),
});
export const kvm_guest_debug = koffi.struct('kvm_guest_debug', {
  control: u32,
  pad: u32,
  debugreg: koffi.array(u64, 8),
});
/** struct kvm_lapic_state: the local APIC's 4 KiB register page, first 1 KiB. */
export const KVM_LAPIC_SIZE = 0x400;
/** struct kvm_pit_config / kvm_irqfd sizes. */
export const KVM_PIT_CONFIG_SIZE = 64;
/** Registers the PC speaker port (0x61) in the kernel: Linux calibrates the TSC through it. */
export const KVM_PIT_SPEAKER_DUMMY = 1;
export const KVM_IRQFD_SIZE = 32;
/** struct kvm_ioeventfd: datamatch u64, addr u64, len u32, fd s32, flags u32, pad[36]. */
export const KVM_IOEVENTFD_SIZE = 64;
export const kvmIoeventfd = { datamatch: 0, addr: 8, len: 16, fd: 20, flags: 24 } as const;
/** Only writes of exactly `datamatch` signal the eventfd. */
export const KVM_IOEVENTFD_FLAG_DATAMATCH = 1;
/** struct kvm_coalesced_mmio_zone: addr u64, size u32, pio u32 (1: a port range). */
export const KVM_COALESCED_ZONE_SIZE = 16;
export const kvmCoalescedZone = { addr: 0, size: 8, pio: 12 } as const;
/** Headers of the flexible-array structs kvm_msrs and kvm_cpuid2. */
export const KVM_MSRS_HEADER = 8;
export const KVM_CPUID2_HEADER = 8;

const size = (t: TypeObject) => koffi.sizeof(t);

export const ioctls = {
  KVM_GET_API_VERSION: io(0x00),
  KVM_CREATE_VM: io(0x01),
  KVM_CHECK_EXTENSION: io(0x03),
  KVM_GET_VCPU_MMAP_SIZE: io(0x04),
  KVM_GET_SUPPORTED_CPUID: iowr(0x05, KVM_CPUID2_HEADER),
  KVM_CREATE_VCPU: io(0x41),
  KVM_SET_USER_MEMORY_REGION: iow(0x46, size(kvm_userspace_memory_region)),
  KVM_SET_TSS_ADDR: io(0x47),
  KVM_RUN: io(0x80),
  KVM_GET_REGS: ior(0x81, size(kvm_regs)),
  KVM_SET_REGS: iow(0x82, size(kvm_regs)),
  KVM_GET_SREGS: ior(0x83, size(kvm_sregs)),
  KVM_SET_SREGS: iow(0x84, size(kvm_sregs)),
  KVM_GET_MSRS: iowr(0x88, KVM_MSRS_HEADER),
  KVM_SET_MSRS: iow(0x89, KVM_MSRS_HEADER),
  KVM_GET_FPU: ior(0x8c, size(kvm_fpu)),
  KVM_SET_FPU: iow(0x8d, size(kvm_fpu)),
  KVM_SET_CPUID2: iow(0x90, KVM_CPUID2_HEADER),
  KVM_SET_GUEST_DEBUG: iow(0x9b, size(kvm_guest_debug)),
  KVM_CREATE_IRQCHIP: io(0x60),
  KVM_IRQFD: iow(0x76, 32),
  KVM_IOEVENTFD: iow(0x79, 64),
  KVM_REGISTER_COALESCED_MMIO: iow(0x67, 16),
  KVM_CREATE_PIT2: iow(0x77, 64),
  KVM_GET_LAPIC: ior(0x8e, KVM_LAPIC_SIZE),
  KVM_SET_LAPIC: iow(0x8f, KVM_LAPIC_SIZE),
} as const;
export type IoctlName = keyof typeof ioctls;

export const KVM_CAP_IMMEDIATE_EXIT = 136;
export const KVM_CAP_SET_GUEST_DEBUG = 23;
export const KVM_CAP_NR_VCPUS = 9;
export const KVM_CAP_MAX_VCPUS = 66;
export const KVM_CAP_MAX_VCPU_ID = 128;
export const KVM_CAP_READONLY_MEM = 81;
export const KVM_CAP_TSC_DEADLINE_TIMER = 72;
export const KVM_CAP_IOEVENTFD = 36;
/** Its value is the page of a vCPU's mmap that holds the coalesced ring (0: none). */
export const KVM_CAP_COALESCED_MMIO = 15;
export const KVM_CAP_COALESCED_PIO = 162;
export const KVM_MEM_READONLY = 0x2;

/** struct kvm_run: the fields the VMM reads and writes, by byte offset. */
export const kvmRun = {
  immediate_exit: 1,
  exit_reason: 8,
  exit: 32, // the union
  io: { direction: 32, size: 33, port: 34, count: 36, data_offset: 40 },
  mmio: { phys_addr: 32, data: 40, len: 48, is_write: 52 },
  fail_entry: { hardware_entry_failure_reason: 32, cpu: 40 },
  internal: { suberror: 32, ndata: 36, data: 40 },
  system_event: { type: 32, ndata: 36, data: 40 },
  // struct kvm_debug_exit_arch: its fields are the architecture's (WatchpointArch reads them).
  debug: { arch: 32 },
} as const;

export const KVM_EXIT_IO_IN = 0;
export const KVM_EXIT_IO_OUT = 1;

export const ExitReason = {
  UNKNOWN: 0,
  EXCEPTION: 1,
  IO: 2,
  HYPERCALL: 3,
  DEBUG: 4,
  HLT: 5,
  MMIO: 6,
  IRQ_WINDOW_OPEN: 7,
  SHUTDOWN: 8,
  FAIL_ENTRY: 9,
  INTR: 10,
  SET_TPR: 11,
  TPR_ACCESS: 12,
  NMI: 16,
  INTERNAL_ERROR: 17,
  SYSTEM_EVENT: 24,
  IOAPIC_EOI: 26,
  X86_RDMSR: 29,
  X86_WRMSR: 30,
  NOTIFY: 37,
} as const;

export const KVM_SYSTEM_EVENT_SHUTDOWN = 1;
export const KVM_SYSTEM_EVENT_RESET = 2;

export const KVM_GUESTDBG_ENABLE = 0x1;
export const KVM_GUESTDBG_USE_HW_BP = 0x20000;

import koffi from 'koffi';
import { beforeAll, describe, expect, it } from 'vitest';
import { probeC } from './c-probe.testing.ts';
import { DEBUG_EXIT_DR6 } from '../x86_64/debugregs.ts';
import * as abi from './kvm-abi.ts';

// Each entry: a C expression evaluated against the kernel's own <linux/kvm.h>, and our value.
const checks: Array<[string, number]> = [
  ...Object.entries(abi.ioctls).map(([name, v]): [string, number] => [name, v]),
  ['sizeof(struct kvm_regs)', koffi.sizeof(abi.kvm_regs)],
  ['sizeof(struct kvm_segment)', koffi.sizeof(abi.kvm_segment)],
  ['sizeof(struct kvm_dtable)', koffi.sizeof(abi.kvm_dtable)],
  ['sizeof(struct kvm_sregs)', koffi.sizeof(abi.kvm_sregs)],
  ['offsetof(struct kvm_sregs, cr3)', koffi.offsetof(abi.kvm_sregs, 'cr3')],
  ['offsetof(struct kvm_sregs, efer)', koffi.offsetof(abi.kvm_sregs, 'efer')],
  ['sizeof(struct kvm_fpu)', koffi.sizeof(abi.kvm_fpu)],
  ['offsetof(struct kvm_fpu, mxcsr)', koffi.offsetof(abi.kvm_fpu, 'mxcsr')],
  ['sizeof(struct kvm_userspace_memory_region)', koffi.sizeof(abi.kvm_userspace_memory_region)],
  ['sizeof(struct kvm_msr_entry)', koffi.sizeof(abi.kvm_msr_entry)],
  ['sizeof(struct kvm_msrs)', abi.KVM_MSRS_HEADER],
  ['sizeof(struct kvm_cpuid_entry2)', koffi.sizeof(abi.kvm_cpuid_entry2)],
  ['sizeof(struct kvm_cpuid2)', abi.KVM_CPUID2_HEADER],
  ['sizeof(struct kvm_guest_debug)', koffi.sizeof(abi.kvm_guest_debug)],
  ['offsetof(struct kvm_guest_debug, arch.debugreg)', koffi.offsetof(abi.kvm_guest_debug, 'debugreg')],
  ['offsetof(struct kvm_run, immediate_exit)', abi.kvmRun.immediate_exit],
  ['offsetof(struct kvm_run, exit_reason)', abi.kvmRun.exit_reason],
  ['offsetof(struct kvm_run, io.direction)', abi.kvmRun.io.direction],
  ['offsetof(struct kvm_run, io.size)', abi.kvmRun.io.size],
  ['offsetof(struct kvm_run, io.port)', abi.kvmRun.io.port],
  ['offsetof(struct kvm_run, io.count)', abi.kvmRun.io.count],
  ['offsetof(struct kvm_run, io.data_offset)', abi.kvmRun.io.data_offset],
  ['offsetof(struct kvm_run, mmio.phys_addr)', abi.kvmRun.mmio.phys_addr],
  ['offsetof(struct kvm_run, mmio.data)', abi.kvmRun.mmio.data],
  ['offsetof(struct kvm_run, mmio.len)', abi.kvmRun.mmio.len],
  ['offsetof(struct kvm_run, mmio.is_write)', abi.kvmRun.mmio.is_write],
  ['offsetof(struct kvm_run, fail_entry.hardware_entry_failure_reason)', abi.kvmRun.fail_entry.hardware_entry_failure_reason],
  ['offsetof(struct kvm_run, fail_entry.cpu)', abi.kvmRun.fail_entry.cpu],
  ['offsetof(struct kvm_run, internal.suberror)', abi.kvmRun.internal.suberror],
  ['offsetof(struct kvm_run, internal.ndata)', abi.kvmRun.internal.ndata],
  ['offsetof(struct kvm_run, internal.data)', abi.kvmRun.internal.data],
  ['offsetof(struct kvm_run, system_event.type)', abi.kvmRun.system_event.type],
  ['offsetof(struct kvm_run, system_event.data)', abi.kvmRun.system_event.data],
  ['offsetof(struct kvm_run, debug.arch)', abi.kvmRun.debug.arch],
  ['offsetof(struct kvm_debug_exit_arch, dr6)', DEBUG_EXIT_DR6],
  ['KVM_EXIT_IO_IN', abi.KVM_EXIT_IO_IN],
  ['KVM_EXIT_IO_OUT', abi.KVM_EXIT_IO_OUT],
  ...Object.entries(abi.ExitReason).map(([name, v]): [string, number] => [`KVM_EXIT_${name}`, v]),
  ['KVM_SYSTEM_EVENT_SHUTDOWN', abi.KVM_SYSTEM_EVENT_SHUTDOWN],
  ['KVM_SYSTEM_EVENT_RESET', abi.KVM_SYSTEM_EVENT_RESET],
  ['KVM_CAP_IMMEDIATE_EXIT', abi.KVM_CAP_IMMEDIATE_EXIT],
  ['KVM_CAP_SET_GUEST_DEBUG', abi.KVM_CAP_SET_GUEST_DEBUG],
  ['KVM_CAP_NR_VCPUS', abi.KVM_CAP_NR_VCPUS],
  ['KVM_CAP_MAX_VCPUS', abi.KVM_CAP_MAX_VCPUS],
  ['KVM_CAP_READONLY_MEM', abi.KVM_CAP_READONLY_MEM],
  ['KVM_CAP_TSC_DEADLINE_TIMER', abi.KVM_CAP_TSC_DEADLINE_TIMER],
  ['KVM_MEM_READONLY', abi.KVM_MEM_READONLY],
  ['KVM_GUESTDBG_ENABLE', abi.KVM_GUESTDBG_ENABLE],
  ['KVM_GUESTDBG_USE_HW_BP', abi.KVM_GUESTDBG_USE_HW_BP],
  ['KVM_API_VERSION', abi.KVM_API_VERSION],
  ['sizeof(struct kvm_lapic_state)', abi.KVM_LAPIC_SIZE],
  ['sizeof(struct kvm_pit_config)', abi.KVM_PIT_CONFIG_SIZE],
  ['KVM_PIT_SPEAKER_DUMMY', abi.KVM_PIT_SPEAKER_DUMMY],
  ['sizeof(struct kvm_irqfd)', abi.KVM_IRQFD_SIZE],
  ['sizeof(struct kvm_ioeventfd)', abi.KVM_IOEVENTFD_SIZE],
  ...Object.entries(abi.kvmIoeventfd).map(([field, v]): [string, number] => [`offsetof(struct kvm_ioeventfd, ${field})`, v]),
  ['KVM_IOEVENTFD_FLAG_DATAMATCH', abi.KVM_IOEVENTFD_FLAG_DATAMATCH],
  ['KVM_CAP_IOEVENTFD', abi.KVM_CAP_IOEVENTFD],
];

describe('KVM ABI matches <linux/kvm.h>', () => {
  let kernel: number[];
  beforeAll(() => {
    kernel = probeC(
      ['linux/kvm.h'],
      checks.map(([expr]) => expr),
    );
  });

  it.each(checks.map(([expr, ours], i) => ({ expr, ours, i })))('$expr', ({ ours, i }) => {
    expect(ours).toBe(kernel[i]);
  });
});

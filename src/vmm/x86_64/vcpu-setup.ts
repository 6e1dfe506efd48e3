// An x86_64 vCPU's state before its first KVM_RUN: CPUID, long mode and the entry registers for
// a bare guest (a Linux guest starts from reset state, set up by its boot protocol), the FPU,
// and for Linux the boot MSRs and LAPIC LINT pins firmware would leave.
import type { VcpuFd } from '../kvm.ts';
import type { VcpuWorkerInit } from '../vcpu/protocol.ts';
import { entryRegs, setupSregs } from './long-mode.ts';
import { LINUX_BOOT_MSRS, setLintPins } from './machine.ts';
import { getFpu, getLapic, getSregs, setCpuid2, setFpu, setLapic, setMsrs, setSregs } from './vcpu-ioctls.ts';

export function setupVcpu(vcpu: VcpuFd, init: Pick<VcpuWorkerInit, 'cpuid' | 'start' | 'linuxCpuState'>): void {
  setCpuid2(vcpu, init.cpuid);
  if (init.start.mode === 'long-mode') {
    setSregs(vcpu, setupSregs(getSregs(vcpu)));
    vcpu.setRegs(entryRegs(init.start.entry));
  }
  setFpu(vcpu, { ...getFpu(vcpu), fcw: 0x37f, mxcsr: 0x1f80 });
  if (init.linuxCpuState) {
    setMsrs(vcpu, LINUX_BOOT_MSRS);
    setLapic(vcpu, setLintPins(getLapic(vcpu)));
  }
}

// Per-vCPU CPUID: the host's supported leaves with this vCPU's APIC id patched in.
import type { CpuidEntry } from '../kvm.ts';

export function cpuidForVcpu(supported: readonly CpuidEntry[], apicId: number, vcpuCount: number): CpuidEntry[] {
  return supported.map((e) => {
    const out = { ...e };
    if (e.function === 1) {
      // EBX[31:24] initial APIC id, EBX[23:16] logical processor count; EDX[28] HTT.
      out.ebx = ((e.ebx & 0x0000_ffff) | ((vcpuCount & 0xff) << 16) | ((apicId & 0xff) << 24)) >>> 0;
      if (vcpuCount > 1) out.edx = (e.edx | (1 << 28)) >>> 0;
    } else if (e.function === 0xb || e.function === 0x1f) {
      out.edx = apicId >>> 0; // x2APIC id
    }
    return out;
  });
}

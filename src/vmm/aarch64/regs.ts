// KVM_GET_ONE_REG ids for the registers a freeze snapshot needs, and the snapshot
// built from their values.
import type { VcpuRegSnapshot } from '../vcpu/snapshot.ts';

const KVM_REG_ARM64 = 0x6000_0000_0000_0000n;
const KVM_REG_SIZE_U64 = 0x0030_0000_0000_0000n;
const KVM_REG_ARM_CORE = 0x0010_0000n;
const KVM_REG_ARM64_SYSREG = 0x0013_0000n;

/** A core register by its byte offset in struct kvm_regs (ids count 32-bit words). */
export function coreRegId(byteOffset: number): bigint {
  return KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | BigInt(byteOffset / 4);
}

/** A system register by its MRS encoding (op0, op1, CRn, CRm, op2). */
export function sysRegId(op0: number, op1: number, crn: number, crm: number, op2: number): bigint {
  const enc = (op0 << 14) | (op1 << 11) | (crn << 7) | (crm << 3) | op2;
  return KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM64_SYSREG | BigInt(enc);
}

// struct kvm_regs opens with user_pt_regs { regs[31], sp, pc, pstate }: pc is at 256,
// and sp_el1 follows at 272 (248 would be sp, i.e. SP_EL0).
export const REG_PC = coreRegId(256);
export const REG_SP_EL1 = coreRegId(272);
export const REG_TTBR0_EL1 = sysRegId(3, 0, 2, 0, 0);
export const REG_TTBR1_EL1 = sysRegId(3, 0, 2, 0, 1);
export const REG_TCR_EL1 = sysRegId(3, 0, 2, 0, 2);

export interface Arm64Regs {
  pc: bigint;
  spEl1: bigint;
  ttbr1?: bigint;
  ttbr0?: bigint;
  tcr?: bigint;
}

/** ptroot is the kernel's TTBR1 (0 if it could not be read), uptroot the user TTBR0. */
export function snapshotFromRegs(r: Arm64Regs): VcpuRegSnapshot {
  const s: VcpuRegSnapshot = { instruction_pointer: r.pc, stack_pointer: r.spEl1, page_table_root: r.ttbr1 ?? 0n };
  if (r.ttbr0 !== undefined) s.user_page_table_root = r.ttbr0;
  if (r.tcr !== undefined) s.tcr_el1 = r.tcr;
  return s;
}

// The x86-only vCPU ioctls (special registers, FPU, MSRs, CPUID, local APIC) and their
// types, apart from the generic VcpuFd: code outside x86_64/ never needs them.
import koffi from 'koffi';
import { VmmError } from '../errors.ts';
import { type CpuidEntry, CPUID_ENTRY_SIZE, ioctl, toBig, type VcpuFd } from '../kvm.ts';
import * as abi from '../sys/kvm-abi.ts';

export interface KvmSegment {
  base: bigint;
  limit: number;
  selector: number;
  type: number;
  present: number;
  dpl: number;
  db: number;
  s: number;
  l: number;
  g: number;
  avl: number;
  unusable: number;
  padding: number;
}
export interface KvmDtable {
  base: bigint;
  limit: number;
  padding: number[];
}
export interface KvmSregs {
  cs: KvmSegment;
  ds: KvmSegment;
  es: KvmSegment;
  fs: KvmSegment;
  gs: KvmSegment;
  ss: KvmSegment;
  tr: KvmSegment;
  ldt: KvmSegment;
  gdt: KvmDtable;
  idt: KvmDtable;
  cr0: bigint;
  cr2: bigint;
  cr3: bigint;
  cr4: bigint;
  cr8: bigint;
  efer: bigint;
  apic_base: bigint;
  interrupt_bitmap: bigint[];
}
export interface KvmFpu {
  fcw: number;
  mxcsr: number;
  [field: string]: unknown;
}
export interface MsrEntry {
  index: number;
  data: bigint;
}

function decodeSregs(buf: Uint8Array): KvmSregs {
  const raw = koffi.decode(buf, abi.kvm_sregs) as Record<string, unknown>;
  const seg = (s: unknown): KvmSegment => ({ ...(s as KvmSegment), base: BigInt((s as { base: number | bigint }).base) });
  const dt = (d: unknown): KvmDtable => ({ ...(d as KvmDtable), base: BigInt((d as { base: number | bigint }).base) });
  return {
    cs: seg(raw.cs),
    ds: seg(raw.ds),
    es: seg(raw.es),
    fs: seg(raw.fs),
    gs: seg(raw.gs),
    ss: seg(raw.ss),
    tr: seg(raw.tr),
    ldt: seg(raw.ldt),
    gdt: dt(raw.gdt),
    idt: dt(raw.idt),
    cr0: BigInt(raw.cr0 as number),
    cr2: BigInt(raw.cr2 as number),
    cr3: BigInt(raw.cr3 as number),
    cr4: BigInt(raw.cr4 as number),
    cr8: BigInt(raw.cr8 as number),
    efer: BigInt(raw.efer as number),
    apic_base: BigInt(raw.apic_base as number),
    interrupt_bitmap: toBig(raw.interrupt_bitmap as number[]),
  };
}

const MSR_ENTRY_SIZE = koffi.sizeof(abi.kvm_msr_entry);

function encodeCpuid(entries: CpuidEntry[]): Uint8Array {
  const buf = new Uint8Array(abi.KVM_CPUID2_HEADER + entries.length * CPUID_ENTRY_SIZE);
  new DataView(buf.buffer).setUint32(0, entries.length, true);
  entries.forEach((e, i) => {
    koffi.encode(buf, abi.KVM_CPUID2_HEADER + i * CPUID_ENTRY_SIZE, abi.kvm_cpuid_entry2, { ...e, padding: [0, 0, 0] });
  });
  return buf;
}

export function getSregs(vcpu: VcpuFd): KvmSregs {
  const buf = new Uint8Array(koffi.sizeof(abi.kvm_sregs));
  ioctl(vcpu.fd, 'KVM_GET_SREGS', buf);
  return decodeSregs(buf);
}
export function setSregs(vcpu: VcpuFd, sregs: KvmSregs): void {
  const buf = new Uint8Array(koffi.sizeof(abi.kvm_sregs));
  koffi.encode(buf, abi.kvm_sregs, sregs);
  ioctl(vcpu.fd, 'KVM_SET_SREGS', buf);
}
export function getFpu(vcpu: VcpuFd): KvmFpu {
  const buf = new Uint8Array(koffi.sizeof(abi.kvm_fpu));
  ioctl(vcpu.fd, 'KVM_GET_FPU', buf);
  return koffi.decode(buf, abi.kvm_fpu) as KvmFpu;
}
export function setFpu(vcpu: VcpuFd, fpu: KvmFpu): void {
  const buf = new Uint8Array(koffi.sizeof(abi.kvm_fpu));
  koffi.encode(buf, abi.kvm_fpu, fpu);
  ioctl(vcpu.fd, 'KVM_SET_FPU', buf);
}
export function getMsrs(vcpu: VcpuFd, indices: number[]): MsrEntry[] {
  const buf = msrBuffer(indices.map((index) => ({ index, data: 0n })));
  const n = ioctl(vcpu.fd, 'KVM_GET_MSRS', buf);
  return Array.from({ length: n }, (_, i) => {
    const e = koffi.decode(buf, abi.KVM_MSRS_HEADER + i * MSR_ENTRY_SIZE, abi.kvm_msr_entry) as MsrEntry;
    return { index: e.index, data: BigInt(e.data) };
  });
}
export function setMsrs(vcpu: VcpuFd, entries: MsrEntry[]): void {
  const n = ioctl(vcpu.fd, 'KVM_SET_MSRS', msrBuffer(entries));
  if (n !== entries.length) {
    throw new VmmError('VMM_MSR_REFUSED', `KVM_SET_MSRS set ${n} of ${entries.length} MSRs (MSR 0x${entries[n]?.index.toString(16)} refused)`);
  }
}
function msrBuffer(entries: MsrEntry[]): Uint8Array {
  const buf = new Uint8Array(abi.KVM_MSRS_HEADER + entries.length * MSR_ENTRY_SIZE);
  new DataView(buf.buffer).setUint32(0, entries.length, true);
  entries.forEach((e, i) => {
    koffi.encode(buf, abi.KVM_MSRS_HEADER + i * MSR_ENTRY_SIZE, abi.kvm_msr_entry, { ...e, reserved: 0 });
  });
  return buf;
}
export function setCpuid2(vcpu: VcpuFd, entries: CpuidEntry[]): void {
  ioctl(vcpu.fd, 'KVM_SET_CPUID2', encodeCpuid(entries));
}
/** The local APIC's register page (KVM_LAPIC_SIZE bytes). */
export function getLapic(vcpu: VcpuFd): Uint8Array {
  const buf = new Uint8Array(abi.KVM_LAPIC_SIZE);
  ioctl(vcpu.fd, 'KVM_GET_LAPIC', buf);
  return buf;
}
export function setLapic(vcpu: VcpuFd, regs: Uint8Array): void {
  ioctl(vcpu.fd, 'KVM_SET_LAPIC', regs);
}

/** What a register snapshot keeps of an x86 vCPU: rip, rsp and cr3. */
export function snapshotRegs(vcpu: VcpuFd): { ip: bigint; sp: bigint; pageTableRoot: bigint } {
  const regs = vcpu.getRegs();
  return { ip: regs.rip, sp: regs.rsp, pageTableRoot: getSregs(vcpu).cr3 };
}

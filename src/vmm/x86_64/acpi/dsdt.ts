// DSDT: \_SB with one virtio-mmio device per transport (Linux binds _HID LNRO0005 to virtio_mmio,
// taking the register window and interrupt from _CRS), and \_S5 so `poweroff` reaches the VMM as
// a PM1a control write.
import { concat, device, integer, interrupt, memory32Fixed, name, pkg, resourceTemplate, scope, string, type Aml } from './aml.ts';
import { sdt } from './sdt.ts';
import type { GuestPhysAddr } from '../../guest-address.ts';

export const VIRTIO_MMIO_HID = 'LNRO0005';
/** SLP_TYP the guest writes to PM1a control (with SLP_EN) to power off. */
export const S5_SLP_TYP = 5;

export interface VirtioMmioDevice {
  gpa: GuestPhysAddr;
  size: number;
  /** GSI (IOAPIC pin). */
  irq: number;
  /** Default edge: KVM irqfd injects edges. */
  trigger?: 'edge' | 'level';
}

/** Device (VRxx) { _HID, _UID, _CRS { Memory32Fixed, Interrupt } }. */
export function virtioMmioDevice(index: number, d: VirtioMmioDevice): Aml {
  if (!Number.isInteger(index) || index < 0 || index > 0xff) throw new RangeError(`virtio-mmio device index ${index} is not 0..255`);
  return device(
    `VR${index.toString(16).toUpperCase().padStart(2, '0')}`,
    name('_HID', string(VIRTIO_MMIO_HID)),
    name('_UID', integer(index)),
    name('_CRS', resourceTemplate(memory32Fixed(d.gpa, d.size), interrupt([d.irq], { edge: (d.trigger ?? 'edge') === 'edge' }))),
  );
}

export function dsdt(virtio: readonly VirtioMmioDevice[] = []): Uint8Array {
  // Root-level names go without the '\' prefix, as iasl emits them (the same objects).
  const aml = [scope('_SB', ...virtio.map((d, i) => virtioMmioDevice(i, d))), name('_S5', pkg(integer(S5_SLP_TYP), integer(S5_SLP_TYP), integer(0), integer(0)))];
  // Revision 2: AML integers are 64-bit.
  return sdt({ signature: 'DSDT', revision: 2 }, concat(...aml));
}

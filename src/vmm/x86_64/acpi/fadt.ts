// FADT (ACPI 6.5 §5.2.9) and FACS (§5.2.10). A full (not hardware-reduced) FADT, so Linux keeps
// the PC's legacy PIC and PIT. Only the PM1a event/control blocks, which ACPICA requires, point at
// I/O ports: the VMM must accept accesses there (reads 0, writes ignored, except an S5 request).
import { ByteWriter, gas, GAS_SYSTEM_IO, sdt } from './sdt.ts';
import type { GuestPhysAddr } from '../../guest-address.ts';

export const FADT_REVISION = 6;
export const FADT_MINOR_REVISION = 5;
export const FADT_SIZE = 276;
export const FACS_SIZE = 64;

/** Defaults follow QEMU's ICH9 ports. */
export const DEFAULT_PM1A_EVT_PORT = 0x600;
export const DEFAULT_PM1A_CNT_PORT = 0x604;
export const DEFAULT_SCI_IRQ = 9;
export const PM1_EVT_LEN = 4;
export const PM1_CNT_LEN = 2;
/** PM1 control bits the OS writes to enter a sleep state (poweroff = SLP_TYP of _S5 + SLP_EN). */
export const PM1_CNT_SLP_EN = 1 << 13;
export const PM1_CNT_SLP_TYP_SHIFT = 10;

// FADT flags (§5.2.9, Table 5.10).
const WBINVD = 1 << 0;
const PROC_C1 = 1 << 2;
const PWR_BUTTON = 1 << 4; // set: no fixed-feature power button
const SLP_BUTTON = 1 << 5; // set: no fixed-feature sleep button
// IA-PC boot architecture flags (Table 5.11).
const IAPC_8042 = 1 << 1;
const IAPC_NO_VGA = 1 << 2;
const IAPC_NO_CMOS_RTC = 1 << 5;

export interface FadtOptions {
  dsdtGpa: GuestPhysAddr;
  facsGpa: GuestPhysAddr;
  sciIrq?: number;
  pm1aEventPort?: number;
  pm1aControlPort?: number;
  /** Tell Linux an i8042 exists so its driver probes it (off: reboot=k still writes port 0x64). */
  i8042?: boolean;
  /** Tell Linux a CMOS RTC exists (off: no rtc_cmos device). */
  cmosRtc?: boolean;
}

export function fadt(o: FadtOptions): Uint8Array {
  const evt = o.pm1aEventPort ?? DEFAULT_PM1A_EVT_PORT;
  const cnt = o.pm1aControlPort ?? DEFAULT_PM1A_CNT_PORT;
  const bootArch = (o.i8042 ? IAPC_8042 : 0) | IAPC_NO_VGA | (o.cmosRtc ? 0 : IAPC_NO_CMOS_RTC);
  const w = new ByteWriter()
    .u32(o.facsGpa) // FIRMWARE_CTRL
    .u32(o.dsdtGpa) // DSDT
    .u8(0) // reserved
    .u8(0) // preferred PM profile: unspecified
    .u16(o.sciIrq ?? DEFAULT_SCI_IRQ)
    .u32(0) // SMI_CMD: none, so ACPICA treats the machine as always in ACPI mode
    .u8(0)
    .u8(0)
    .u8(0)
    .u8(0) // ACPI_ENABLE, ACPI_DISABLE, S4BIOS_REQ, PSTATE_CNT
    .u32(evt)
    .u32(0) // PM1a/PM1b event blocks
    .u32(cnt)
    .u32(0) // PM1a/PM1b control blocks
    .u32(0) // PM2 control block
    .u32(0) // PM timer: none (Linux then skips the acpi_pm clocksource)
    .u32(0)
    .u32(0) // GPE0/GPE1 blocks
    .u8(PM1_EVT_LEN)
    .u8(PM1_CNT_LEN)
    .u8(0)
    .u8(0) // PM1_EVT_LEN, PM1_CNT_LEN, PM2_CNT_LEN, PM_TMR_LEN
    .u8(0)
    .u8(0)
    .u8(0) // GPE0_BLK_LEN, GPE1_BLK_LEN, GPE1_BASE
    .u8(0) // CST_CNT
    .u16(101)
    .u16(1001) // P_LVL2_LAT > 100, P_LVL3_LAT > 1000: no C2/C3
    .u16(0)
    .u16(0) // FLUSH_SIZE, FLUSH_STRIDE
    .u8(0)
    .u8(0) // DUTY_OFFSET, DUTY_WIDTH
    .u8(0)
    .u8(0)
    .u8(0) // DAY_ALRM, MON_ALRM, CENTURY
    .u16(bootArch)
    .u8(0)
    .u32(WBINVD | PROC_C1 | PWR_BUTTON | SLP_BUTTON) // no RESET_REG_SUP: Linux falls back to the keyboard controller
    .zeros(12) // RESET_REG
    .u8(0) // RESET_VALUE
    .u16(0) // ARM_BOOT_ARCH
    .u8(FADT_MINOR_REVISION)
    .u64(o.facsGpa) // X_FIRMWARE_CTRL
    .u64(o.dsdtGpa); // X_DSDT
  gas(w, GAS_SYSTEM_IO, PM1_EVT_LEN * 8, evt); // X_PM1a_EVT_BLK
  w.zeros(12); // X_PM1b_EVT_BLK
  gas(w, GAS_SYSTEM_IO, PM1_CNT_LEN * 8, cnt); // X_PM1a_CNT_BLK
  w.zeros(12 * 5); // X_PM1b_CNT, X_PM2_CNT, X_PM_TMR, X_GPE0, X_GPE1
  w.zeros(12 * 2); // SLEEP_CONTROL_REG, SLEEP_STATUS_REG (hardware-reduced only)
  w.u64(0); // hypervisor vendor identity
  return sdt({ signature: 'FACP', revision: FADT_REVISION }, w.toBytes());
}

/** FACS: no checksum, must be 64-byte aligned. */
export function facs(): Uint8Array {
  return new ByteWriter()
    .ascii('FACS', 4)
    .u32(FACS_SIZE)
    .u32(0) // hardware signature
    .u32(0) // firmware waking vector
    .u32(0) // global lock
    .u32(0) // flags
    .u64(0) // X firmware waking vector
    .u8(2) // version
    .zeros(3)
    .u32(0) // OSPM flags
    .zeros(24)
    .toBytes();
}

// RSDP (ACPI 6.5 §5.2.5) and XSDT (§5.2.8).
import { ByteWriter, checksumOf, OEM_ID, sdt } from './sdt.ts';
import type { GuestPhysAddr } from '../../guest-address.ts';

export const RSDP_SIZE = 36;
/** Where the OS may scan for the RSDP when it is not handed its address (16-byte aligned). */
export const BIOS_AREA_START = 0xe0000;
export const BIOS_AREA_END = 0x100000;

/** Revision-2 RSDP pointing at the XSDT only (the RSDT address is 0: Linux prefers the XSDT). */
export function rsdp(xsdtGpa: GuestPhysAddr): Uint8Array {
  const out = new ByteWriter()
    .ascii('RSD PTR ', 8)
    .u8(0) // checksum over the first 20 bytes
    .ascii(OEM_ID, 6)
    .u8(2)
    .u32(0)
    .u32(RSDP_SIZE)
    .u64(xsdtGpa)
    .u8(0) // extended checksum over all 36 bytes
    .zeros(3)
    .toBytes();
  out[8] = checksumOf(out, 0, 20);
  out[32] = checksumOf(out);
  return out;
}

export function xsdt(tableGpas: GuestPhysAddr[]): Uint8Array {
  const w = new ByteWriter();
  for (const a of tableGpas) w.u64(a);
  return sdt({ signature: 'XSDT', revision: 1 }, w.toBytes());
}

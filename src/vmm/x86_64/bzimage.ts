// The x86 boot protocol's setup header (Documentation/arch/x86/boot.rst), read from the
// start of a bzImage. Only the fields a 64-bit direct loader needs; names follow boot.rst.
import { closeSync, openSync } from 'node:fs';
import { readAt } from '../file-read.ts';
import { UserError } from '../../errors.ts';

const BOOT_FLAG = 0xaa55;
const HDRS = 0x53726448; // "HdrS", little-endian
/** 2.12 added xloadflags (XLF_KERNEL_64): the 64-bit entry point the loader relies on. */
export const MIN_BOOT_PROTOCOL = 0x020c;

export const LOADED_HIGH = 0x01;
export const XLF_KERNEL_64 = 0x01;
export const XLF_CAN_BE_LOADED_ABOVE_4G = 0x02;

export interface BzImageHeader {
  /** Real-mode setup sectors after the boot sector (a 0 in the image means 4). */
  setupSects: number;
  /** Bytes before the protected-mode kernel: (setupSects + 1) * 512. */
  setupBytes: number;
  /** Boot protocol version, e.g. 0x020f for 2.15. */
  version: number;
  loadflags: number;
  xloadflags: number;
  kernelAlignment: number;
  relocatableKernel: boolean;
  /** log2 of the minimum alignment the kernel accepts when relocated. */
  minAlignment: number;
  prefAddress: bigint;
  /** Bytes of linear memory the kernel needs from its load address while it unpacks. */
  initSize: number;
  /** Longest command line, without the NUL. */
  cmdlineSize: number;
  initrdAddrMax: number;
  /** Release string from kernel_version, e.g. "6.1.0-56-amd64", when present. */
  kernelVersion?: string;
}

/** Parses and checks the setup header; throws a UserError naming `source` if it is no usable bzImage. */
export function readBzImageHeader(buf: Uint8Array, source = 'kernel image'): BzImageHeader {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const fail = (why: string) => new UserError(`${source} is not a usable bzImage: ${why}`);
  if (b.length < 0x268) throw fail(`${b.length} bytes is too short for a setup header`);
  if (b.readUInt32LE(0) === 0x464c457f) throw fail('it is an ELF file (a vmlinux?); pass the bzImage (vmlinuz)');
  if (b.readUInt32LE(0x202) !== HDRS) throw fail("no 'HdrS' magic at 0x202");
  if (b.readUInt16LE(0x1fe) !== BOOT_FLAG) throw fail('boot_flag at 0x1fe is not 0xAA55');

  const version = b.readUInt16LE(0x206);
  if (version < MIN_BOOT_PROTOCOL) {
    throw fail(`boot protocol ${protocolString(version)} is older than ${protocolString(MIN_BOOT_PROTOCOL)}`);
  }
  const loadflags = b.readUInt8(0x211);
  if (!(loadflags & LOADED_HIGH)) throw fail('LOADED_HIGH is clear (a zImage, not a bzImage)');
  const xloadflags = b.readUInt16LE(0x236);
  if (!(xloadflags & XLF_KERNEL_64)) throw fail('XLF_KERNEL_64 is clear (no 64-bit entry point)');

  const setupSects = setupSectors(b);
  const setupBytes = (setupSects + 1) * 512;
  if (b.length <= setupBytes) throw fail(`it ends (${b.length} bytes) inside its ${setupBytes}-byte setup code`);

  const header: BzImageHeader = {
    setupSects,
    setupBytes,
    version,
    loadflags,
    xloadflags,
    kernelAlignment: b.readUInt32LE(0x230),
    relocatableKernel: b.readUInt8(0x234) !== 0,
    minAlignment: b.readUInt8(0x235),
    prefAddress: b.readBigUInt64LE(0x258),
    initSize: b.readUInt32LE(0x260),
    cmdlineSize: b.readUInt32LE(0x238),
    initrdAddrMax: b.readUInt32LE(0x22c),
  };
  const kernelVersion = readKernelVersion(b, setupBytes);
  if (kernelVersion) header.kernelVersion = kernelVersion;
  return header;
}

/**
 * The first bytes of bzImage file `path`: its boot sector and setup sectors, and one sector of
 * the payload after them. That is all readBzImageHeader checks and all a loader booting the
 * kernel ELF unpacked from the image needs, without reading the ~14 MB compressed kernel.
 */
export function readBzImageSetup(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    // readBzImageHeader rejects what is no bzImage, a file cut short included.
    return readAt(fd, (setupSectors(readAt(fd, 512, 0)) + 2) * 512, 0);
  } finally {
    closeSync(fd);
  }
}

/** setup_sects at 0x1f1, the setup code's 512-byte sectors after the boot sector: 0 means 4 (the boot protocol's rule for old images). */
function setupSectors(b: Uint8Array): number {
  return (b.length > 0x1f1 ? b[0x1f1]! : 0) || 4;
}

export function protocolString(version: number): string {
  return `${version >> 8}.${(version & 0xff).toString().padStart(2, '0')}`;
}

/** kernel_version points (minus 0x200) at "<release> (<builder>) #1 SMP ..." in the setup code. */
function readKernelVersion(b: Buffer, setupBytes: number): string | undefined {
  const ptr = b.readUInt16LE(0x20e);
  if (ptr === 0) return undefined;
  const start = ptr + 0x200;
  if (start >= setupBytes) return undefined;
  const end = b.indexOf(0, start);
  const text = b.toString('latin1', start, end < 0 || end > setupBytes ? setupBytes : end);
  const release = text.split(' ')[0];
  return release && /^[0-9][\x21-\x7e]*$/.test(release) ? release : undefined;
}

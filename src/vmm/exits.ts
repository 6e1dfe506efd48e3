// kvm_run exits, decoded once into typed values; what a lifecycle exit means (classifyExit, no
// side effects), and device exits dispatched to the bus (dispatchDeviceExit: port and MMIO I/O).
import { toGuestPhys, type GuestPhysAddr } from './guest-address.ts';
import { COM1_BASE, COM2_BASE, SERIAL_PORTS, type Serial8250 } from './devices/serial.ts';
import { I8042_CMD_PORT, I8042_DATA_PORT, type I8042 } from './devices/i8042.ts';
import { ExitReason, KVM_EXIT_IO_OUT, KVM_SYSTEM_EVENT_RESET, KVM_SYSTEM_EVENT_SHUTDOWN, kvmRun } from './sys/kvm-abi.ts';

export type VcpuExit =
  | { kind: 'IoOut'; port: number; size: number; count: number; data: Uint8Array }
  | { kind: 'IoIn'; port: number; size: number; count: number; data: Uint8Array }
  | { kind: 'MmioRead'; addr: GuestPhysAddr; data: Uint8Array }
  | { kind: 'MmioWrite'; addr: GuestPhysAddr; data: Uint8Array }
  | { kind: 'Hlt' }
  | { kind: 'Shutdown' }
  | { kind: 'SystemEvent'; type: number }
  | { kind: 'FailEntry'; reason: bigint; cpu: number }
  | { kind: 'InternalError'; suberror: number }
  /** arch: a live view of kvm_run's struct kvm_debug_exit_arch, whose layout is the architecture's. */
  | { kind: 'Debug'; arch: DataView }
  | { kind: 'Other'; reason: number };

/** Reads the exit out of kvm_run. I/O and MMIO data are live views into kvm_run, to fill in place. */
export function decodeExit(run: DataView, runBytes: Uint8Array): VcpuExit {
  const reason = run.getUint32(kvmRun.exit_reason, true);
  switch (reason) {
    case ExitReason.IO: {
      const size = run.getUint8(kvmRun.io.size);
      const count = run.getUint32(kvmRun.io.count, true);
      const off = Number(run.getBigUint64(kvmRun.io.data_offset, true));
      const port = run.getUint16(kvmRun.io.port, true);
      const data = runBytes.subarray(off, off + size * count);
      return run.getUint8(kvmRun.io.direction) === KVM_EXIT_IO_OUT ? { kind: 'IoOut', port, size, count, data } : { kind: 'IoIn', port, size, count, data };
    }
    case ExitReason.MMIO: {
      const addr = toGuestPhys(run.getBigUint64(kvmRun.mmio.phys_addr, true));
      const len = Math.min(run.getUint32(kvmRun.mmio.len, true), 8);
      const data = runBytes.subarray(kvmRun.mmio.data, kvmRun.mmio.data + len);
      return run.getUint8(kvmRun.mmio.is_write) ? { kind: 'MmioWrite', addr, data } : { kind: 'MmioRead', addr, data };
    }
    case ExitReason.HLT:
      return HLT;
    case ExitReason.SHUTDOWN:
      return SHUTDOWN;
    case ExitReason.SYSTEM_EVENT:
      return { kind: 'SystemEvent', type: run.getUint32(kvmRun.system_event.type, true) };
    case ExitReason.FAIL_ENTRY:
      return {
        kind: 'FailEntry',
        reason: run.getBigUint64(kvmRun.fail_entry.hardware_entry_failure_reason, true),
        cpu: run.getUint32(kvmRun.fail_entry.cpu, true),
      };
    case ExitReason.INTERNAL_ERROR:
      return { kind: 'InternalError', suberror: run.getUint32(kvmRun.internal.suberror, true) };
    case ExitReason.DEBUG:
      return { kind: 'Debug', arch: new DataView(run.buffer, run.byteOffset + kvmRun.debug.arch) };
    default:
      return { kind: 'Other', reason };
  }
}
const HLT: VcpuExit = { kind: 'Hlt' };
const SHUTDOWN: VcpuExit = { kind: 'Shutdown' };

export type ExitAction = { kind: 'Continue' } | { kind: 'Shutdown' } | { kind: 'Fatal'; reason?: bigint };
export const CONTINUE: ExitAction = Object.freeze({ kind: 'Continue' });
export const SHUTDOWN_ACTION: ExitAction = Object.freeze({ kind: 'Shutdown' });

/** An MMIO device window: [base, base + size). Offsets passed to it are relative to base. */
export interface MmioDevice {
  readonly base: GuestPhysAddr;
  readonly size: number;
  read(offset: number, data: Uint8Array): void;
  write(offset: number, data: Uint8Array): void;
}

export interface ExitBus {
  /** Absent: the guest has no such UART (its ports read as nothing). */
  com1?: Serial8250;
  com2?: Serial8250;
  /** The keyboard controller: Linux's i8042 probe, and the 0xFE reset every guest ends with. */
  i8042: I8042;
  /** virtio-console, virtio-blk, virtio-net windows, in that order of precedence. */
  mmio: readonly MmioDevice[];
  /** Writes to RAM pages mapped read-only to watch them; true when the write was one. */
  writeTrap?: (addr: GuestPhysAddr, data: Uint8Array) => boolean;
}

function serialFor(bus: ExitBus, port: number): Serial8250 | undefined {
  if (port >= COM1_BASE && port < COM1_BASE + SERIAL_PORTS) return bus.com1;
  if (port >= COM2_BASE && port < COM2_BASE + SERIAL_PORTS) return bus.com2;
  return undefined;
}
function serialBase(port: number): number {
  return port >= COM1_BASE && port < COM1_BASE + SERIAL_PORTS ? COM1_BASE : COM2_BASE;
}

/** Port writes: true when the guest asked for a reset (through the i8042: its 0xFE command, or its reset line). */
export function dispatchIoOut(bus: ExitBus, port: number, size: number, count: number, data: Uint8Array): boolean {
  if (port === I8042_CMD_PORT) return bus.i8042.writeCommand(data[0]!);
  if (port === I8042_DATA_PORT) return bus.i8042.writeData(data[0]!);
  const serial = serialFor(bus, port);
  if (serial) {
    const off = port - serialBase(port);
    for (let i = 0; i < count; i++) serial.write(off, data[i * size]!);
  }
  return false;
}

/** Port reads fill `data` in place; unknown ports leave it untouched. */
export function dispatchIoIn(bus: ExitBus, port: number, size: number, count: number, data: Uint8Array): void {
  if (port === I8042_CMD_PORT || port === I8042_DATA_PORT) {
    if (data.length > 0) data[0] = port === I8042_CMD_PORT ? bus.i8042.readStatus() : bus.i8042.readData();
    return;
  }
  const serial = serialFor(bus, port);
  if (serial) {
    const off = port - serialBase(port);
    for (let i = 0; i < count; i++) data[i * size] = serial.read(off);
  } else if (isSerialPort(port)) data.fill(0xff); // a UART left out: floating bus, as Linux's probe expects
}

function isSerialPort(port: number): boolean {
  return (port >= COM1_BASE && port < COM1_BASE + SERIAL_PORTS) || (port >= COM2_BASE && port < COM2_BASE + SERIAL_PORTS);
}

function mmioDevice(bus: ExitBus, addr: GuestPhysAddr): MmioDevice | undefined {
  for (const d of bus.mmio) if (addr >= d.base && addr < d.base + d.size) return d;
  return undefined;
}

/**
 * What an exit means for the VM, without touching a device: Shutdown, Fatal (with the hardware
 * reason, the suberror, or the unknown exit reason), Continue (Hlt: the in-kernel LAPIC woke it;
 * Debug: the debug plane's), or `device` for port and MMIO exits (dispatchDeviceExit's).
 */
export function classifyExit(exit: VcpuExit): ExitAction | 'device' {
  switch (exit.kind) {
    case 'IoOut':
    case 'IoIn':
    case 'MmioRead':
    case 'MmioWrite':
      return 'device';
    case 'Hlt':
    case 'Debug':
      return CONTINUE;
    case 'Shutdown':
      return SHUTDOWN_ACTION;
    case 'SystemEvent':
      return exit.type === KVM_SYSTEM_EVENT_SHUTDOWN || exit.type === KVM_SYSTEM_EVENT_RESET ? SHUTDOWN_ACTION : CONTINUE;
    case 'FailEntry':
      return { kind: 'Fatal', reason: exit.reason };
    case 'InternalError':
      return { kind: 'Fatal', reason: BigInt(exit.suberror) };
    case 'Other':
      return { kind: 'Fatal', reason: BigInt(exit.reason) };
  }
}

/** Port and MMIO exits: the ones dispatchDeviceExit takes. */
export type DeviceExit = Extract<VcpuExit, { kind: 'IoOut' | 'IoIn' | 'MmioRead' | 'MmioWrite' }>;

/** Performs a port or MMIO exit's I/O on the bus: Continue, or Shutdown for the i8042 reset. */
export function dispatchDeviceExit(exit: DeviceExit, bus: ExitBus): ExitAction {
  switch (exit.kind) {
    case 'IoOut':
      return dispatchIoOut(bus, exit.port, exit.size, exit.count, exit.data) ? SHUTDOWN_ACTION : CONTINUE;
    case 'IoIn':
      dispatchIoIn(bus, exit.port, exit.size, exit.count, exit.data);
      return CONTINUE;
    case 'MmioRead': {
      const dev = mmioDevice(bus, exit.addr);
      if (dev) dev.read(exit.addr - dev.base, exit.data);
      else exit.data.fill(0xff);
      return CONTINUE;
    }
    case 'MmioWrite': {
      if (bus.writeTrap?.(exit.addr, exit.data)) return CONTINUE;
      const dev = mmioDevice(bus, exit.addr);
      if (dev) dev.write(exit.addr - dev.base, exit.data);
      return CONTINUE;
    }
  }
}

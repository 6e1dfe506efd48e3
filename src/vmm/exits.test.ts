import { describe, expect, it } from 'vitest';
import { I8042 } from './devices/i8042.ts';
import { COM1_BASE, COM2_BASE, Serial8250 } from './devices/serial.ts';
import { classifyExit, decodeExit, dispatchDeviceExit, type DeviceExit, type ExitBus, type MmioDevice, type VcpuExit } from './exits.ts';
import { ExitReason, KVM_EXIT_IO_IN, KVM_EXIT_IO_OUT, kvmRun } from './sys/kvm-abi.ts';

const text = (s: Serial8250) => new TextDecoder().decode(s.output.drain());
function bus(mmio: MmioDevice[] = []): ExitBus & { com1: Serial8250; com2: Serial8250 } {
  return { i8042: new I8042(), com1: Serial8250.create(4096), com2: Serial8250.create(4096), mmio };
}
const out = (port: number, bytes: number[]): VcpuExit => ({ kind: 'IoOut', port, size: 1, count: bytes.length, data: Uint8Array.from(bytes) });
/** A device exit's I/O on the bus (what the run loop does when classifyExit says `device`). */
const dispatch = (e: VcpuExit, b: ExitBus) => {
  expect(classifyExit(e)).toBe('device');
  return dispatchDeviceExit(e as DeviceExit, b);
};
const inp = (port: number, data = Uint8Array.of(0xff)): VcpuExit => ({ kind: 'IoIn', port, size: 1, count: 1, data });

describe('classifyExit: port writes', () => {
  it('treats 0xFE to the i8042 command port as Shutdown', () => {
    expect(dispatch(out(0x64, [0xfe]), bus())).toEqual({ kind: 'Shutdown' });
  });
  it('treats other i8042 commands as Continue', () => {
    expect(dispatch(out(0x64, [0x00]), bus())).toEqual({ kind: 'Continue' });
  });
  it('sends COM1 writes to the COM1 UART', () => {
    const b = bus();
    expect(dispatch(out(COM1_BASE, [0x5a]), b)).toEqual({ kind: 'Continue' });
    expect(text(b.com1)).toBe('Z');
    expect(text(b.com2)).toBe('');
  });
  it('sends COM2 writes to the COM2 UART', () => {
    const b = bus();
    expect(dispatch(out(COM2_BASE, [0x42]), b)).toEqual({ kind: 'Continue' });
    expect(text(b.com2)).toBe('B');
    expect(text(b.com1)).toBe('');
  });
  it('ignores writes to unknown ports', () => {
    const b = bus();
    expect(dispatch(out(0x1234, [0xff]), b)).toEqual({ kind: 'Continue' });
    expect(text(b.com1) + text(b.com2)).toBe('');
  });
  it('writes every element of a rep outsb', () => {
    const b = bus();
    dispatch(out(COM1_BASE, [0x68, 0x69]), b);
    expect(text(b.com1)).toBe('hi');
  });
});

describe('classifyExit: port reads', () => {
  it("routes the i8042's ports to it: a CTR read's answer arrives on the data port", () => {
    const b = bus();
    const status = inp(0x64);
    dispatch(status, b);
    expect((status as { data: Uint8Array }).data[0]! & 0x01).toBe(0);
    dispatch(out(0x64, [0x20]), b);
    const data = inp(0x60);
    dispatch(data, b);
    expect((data as { data: Uint8Array }).data[0]).toBe(0x45);
  });
  it('leaves the buffer untouched for unknown ports', () => {
    const e = inp(0x1234);
    expect(dispatch(e, bus())).toEqual({ kind: 'Continue' });
    expect((e as { data: Uint8Array }).data[0]).toBe(0xff);
  });
  it('reads 0xFF from a UART the guest does not have, and drops writes to it', () => {
    const b = bus();
    const without: ExitBus = { i8042: b.i8042, com2: b.com2, mmio: [] };
    const e = inp(COM1_BASE + 5, Uint8Array.of(0));
    expect(dispatch(e, without)).toEqual({ kind: 'Continue' });
    expect((e as { data: Uint8Array }).data[0]).toBe(0xff);
    expect(dispatch(out(COM1_BASE, [0x5a]), without)).toEqual({ kind: 'Continue' });
    expect(text(b.com2)).toBe('');
  });
  it('reads COM1 registers from the UART (LSR says THR empty)', () => {
    const e = inp(COM1_BASE + 5);
    expect(dispatch(e, bus())).toEqual({ kind: 'Continue' });
    expect((e as { data: Uint8Array }).data[0]! & 0x60).toBe(0x60);
  });
  it('reads COM2 registers from the COM2 UART, not COM1', () => {
    const b = bus();
    dispatch(out(COM2_BASE + 7, [0x5a]), b); // the scratch register keeps what was written
    const com2 = inp(COM2_BASE + 7, Uint8Array.of(0));
    const com1 = inp(COM1_BASE + 7, Uint8Array.of(0));
    expect(dispatch(com2, b)).toEqual({ kind: 'Continue' });
    dispatch(com1, b);
    expect((com2 as { data: Uint8Array }).data[0]).toBe(0x5a);
    expect((com1 as { data: Uint8Array }).data[0]).toBe(0);
  });
});

describe('classifyExit: MMIO', () => {
  it('fills an unmapped read with 0xFF', () => {
    const data = new Uint8Array(4);
    expect(dispatch({ kind: 'MmioRead', addr: 0x1000, data }, bus())).toEqual({ kind: 'Continue' });
    expect([...data]).toEqual([0xff, 0xff, 0xff, 0xff]);
  });
  it('ignores an unmapped write', () => {
    expect(dispatch({ kind: 'MmioWrite', addr: 0x1000, data: Uint8Array.of(0xaa, 0xbb) }, bus())).toEqual({ kind: 'Continue' });
  });
  it('routes to the first device window that contains the address, with window-relative offsets', () => {
    const seen: string[] = [];
    const dev = (name: string, base: number): MmioDevice => ({
      base,
      size: 0x200,
      read: (off, d) => {
        seen.push(`${name} r ${off}`);
        d.fill(7);
      },
      write: (off) => {
        seen.push(`${name} w ${off}`);
      },
    });
    const b = bus([dev('console', 0xd000_0000), dev('blk', 0xd000_1000), dev('net', 0xd000_2000)]);
    const data = new Uint8Array(4);
    dispatch({ kind: 'MmioRead', addr: 0xd000_1008, data }, b);
    dispatch({ kind: 'MmioWrite', addr: 0xd000_2010, data }, b);
    dispatch({ kind: 'MmioWrite', addr: 0xd000_0000, data }, b);
    expect(seen).toEqual(['blk r 8', 'net w 16', 'console w 0']);
    expect([...data]).toEqual([7, 7, 7, 7]);
  });
});

describe('classifyExit: lifecycle exits', () => {
  it('continues after Hlt (the in-kernel LAPIC wakes it) and Debug (the debug plane has it)', () => {
    expect(classifyExit({ kind: 'Hlt' })).toEqual({ kind: 'Continue' });
    expect(classifyExit({ kind: 'Debug', arch: new DataView(new ArrayBuffer(32)) })).toEqual({ kind: 'Continue' });
  });
  it('treats Shutdown (triple fault) as Shutdown', () => {
    expect(classifyExit({ kind: 'Shutdown' })).toEqual({ kind: 'Shutdown' });
  });
  it.each([[1], [2]])('treats SystemEvent type %i (shutdown/reset) as Shutdown', (type) => {
    expect(classifyExit({ kind: 'SystemEvent', type })).toEqual({ kind: 'Shutdown' });
  });
  it.each([[3], [99]])('treats SystemEvent type %i as Continue', (type) => {
    expect(classifyExit({ kind: 'SystemEvent', type })).toEqual({ kind: 'Continue' });
  });
  it('turns FailEntry into Fatal carrying the hardware reason, InternalError its suberror', () => {
    expect(classifyExit({ kind: 'FailEntry', reason: 0xdead_beefn, cpu: 7 })).toEqual({ kind: 'Fatal', reason: 0xdead_beefn });
    expect(classifyExit({ kind: 'InternalError', suberror: 3 })).toEqual({ kind: 'Fatal', reason: 3n });
  });
  it('ends the VM on an exit reason nothing here handles, carrying the reason (re-entering would spin on it)', () => {
    expect(classifyExit({ kind: 'Other', reason: ExitReason.IRQ_WINDOW_OPEN })).toEqual({ kind: 'Fatal', reason: BigInt(ExitReason.IRQ_WINDOW_OPEN) });
  });
});

describe('decodeExit', () => {
  const run = () => {
    const bytes = new Uint8Array(4096);
    return { bytes, dv: new DataView(bytes.buffer) };
  };
  it('decodes a port write with its data in kvm_run', () => {
    const { bytes, dv } = run();
    dv.setUint32(kvmRun.exit_reason, ExitReason.IO, true);
    dv.setUint8(kvmRun.io.direction, KVM_EXIT_IO_OUT);
    dv.setUint8(kvmRun.io.size, 1);
    dv.setUint16(kvmRun.io.port, 0x3f8, true);
    dv.setUint32(kvmRun.io.count, 1, true);
    dv.setBigUint64(kvmRun.io.data_offset, 0x800n, true);
    bytes[0x800] = 0x41;
    expect(decodeExit(dv, bytes)).toMatchObject({ kind: 'IoOut', port: 0x3f8, size: 1, count: 1, data: Uint8Array.of(0x41) });
  });
  it('gives port reads a live view so the answer lands in kvm_run', () => {
    const { bytes, dv } = run();
    dv.setUint32(kvmRun.exit_reason, ExitReason.IO, true);
    dv.setUint8(kvmRun.io.direction, KVM_EXIT_IO_IN);
    dv.setUint8(kvmRun.io.size, 1);
    dv.setUint16(kvmRun.io.port, 0x64, true);
    dv.setUint32(kvmRun.io.count, 1, true);
    dv.setBigUint64(kvmRun.io.data_offset, 0x800n, true);
    bytes[0x800] = 0xff;
    dispatch(decodeExit(dv, bytes), bus());
    expect(bytes[0x800]).toBe(new I8042().readStatus());
  });
  it('decodes an MMIO read and fills 0xFF into kvm_run', () => {
    const { bytes, dv } = run();
    dv.setUint32(kvmRun.exit_reason, ExitReason.MMIO, true);
    dv.setBigUint64(kvmRun.mmio.phys_addr, 0xd000_0000n, true);
    dv.setUint32(kvmRun.mmio.len, 4, true);
    const exit = decodeExit(dv, bytes);
    expect(exit).toMatchObject({ kind: 'MmioRead', addr: 0xd000_0000 });
    dispatch(exit, bus());
    expect([...bytes.subarray(kvmRun.mmio.data, kvmRun.mmio.data + 4)]).toEqual([0xff, 0xff, 0xff, 0xff]);
  });
  it('decodes fail-entry, internal-error, system-event and debug exits', () => {
    const { bytes, dv } = run();
    dv.setUint32(kvmRun.exit_reason, ExitReason.FAIL_ENTRY, true);
    dv.setBigUint64(kvmRun.fail_entry.hardware_entry_failure_reason, 0x80000021n, true);
    dv.setUint32(kvmRun.fail_entry.cpu, 3, true);
    expect(decodeExit(dv, bytes)).toEqual({ kind: 'FailEntry', reason: 0x80000021n, cpu: 3 });
    dv.setUint32(kvmRun.exit_reason, ExitReason.INTERNAL_ERROR, true);
    dv.setUint32(kvmRun.internal.suberror, 1, true);
    expect(decodeExit(dv, bytes)).toEqual({ kind: 'InternalError', suberror: 1 });
    dv.setUint32(kvmRun.exit_reason, ExitReason.SYSTEM_EVENT, true);
    dv.setUint32(kvmRun.system_event.type, 2, true);
    expect(decodeExit(dv, bytes)).toEqual({ kind: 'SystemEvent', type: 2 });
    dv.setUint32(kvmRun.exit_reason, ExitReason.DEBUG, true);
    dv.setBigUint64(kvmRun.debug.arch + 16, 0xffff0ff1n, true);
    const debug = decodeExit(dv, bytes);
    expect(debug.kind === 'Debug' && debug.arch.getBigUint64(16, true)).toBe(0xffff0ff1n);
    dv.setUint32(kvmRun.exit_reason, ExitReason.HLT, true);
    expect(decodeExit(dv, bytes)).toEqual({ kind: 'Hlt' });
    dv.setUint32(kvmRun.exit_reason, ExitReason.SHUTDOWN, true);
    expect(decodeExit(dv, bytes)).toEqual({ kind: 'Shutdown' });
    dv.setUint32(kvmRun.exit_reason, ExitReason.IRQ_WINDOW_OPEN, true);
    expect(decodeExit(dv, bytes)).toEqual({ kind: 'Other', reason: ExitReason.IRQ_WINDOW_OPEN });
  });
});

import { describe, expect, it } from 'vitest';
import { I8042 } from './i8042.ts';

const OBF = 0x01;

/** Linux's i8042_command: wait for an empty input buffer, write the command, read `answers` bytes. */
function command(c: I8042, cmd: number, answers: number): number[] {
  if (c.readStatus() & 0x02) throw new Error('input buffer full');
  c.writeCommand(cmd);
  return Array.from({ length: answers }, () => {
    if (!(c.readStatus() & OBF)) throw new Error(`command 0x${cmd.toString(16)}: no answer (Linux would poll 10000 times)`);
    return c.readData();
  });
}

describe('I8042', () => {
  it("passes Linux's probe: flush, self-test, a stable CTR read twice, a CTR write read back", () => {
    const c = new I8042();
    expect(c.readStatus() & OBF).toBe(0); // i8042_flush finds nothing
    expect(c.readStatus() & 0x10).toBe(0x10); // not "Keylock active"
    expect(command(c, 0xaa, 1)).toEqual([0x55]);
    expect(command(c, 0x20, 1)).toEqual(command(c, 0x20, 1));
    c.writeCommand(0x60);
    expect(c.readStatus() & OBF).toBe(0);
    expect(c.writeData(0x47)).toBe(false);
    expect(command(c, 0x20, 1)).toEqual([0x47]);
    expect(command(c, 0xab, 1)).toEqual([0x00]);
    expect(command(c, 0xa9, 1)).toEqual([0x01]); // no AUX port
  });

  it('empties its output buffer once read; a keyboard byte is dropped', () => {
    const c = new I8042();
    c.writeCommand(0x20);
    c.readData();
    expect(c.readStatus() & OBF).toBe(0);
    expect(c.readData()).toBe(0);
    expect(c.writeData(0xff)).toBe(false);
    expect(command(c, 0x20, 1)).toEqual([0x45]);
  });

  it('resets the CPU on 0xFE, or on an output-port write with the reset line low', () => {
    const c = new I8042();
    expect(c.writeCommand(0xfe)).toBe(true);
    expect(c.writeCommand(0xd1)).toBe(false);
    expect(c.writeData(0xdf)).toBe(false); // A20 on, reset high: what real-mode setup code writes
    c.writeCommand(0xd1);
    expect(c.writeData(0xde)).toBe(true);
  });
});

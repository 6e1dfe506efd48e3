import { describe, expect, it } from 'vitest';
import { Serial8250 } from './serial.ts';

const THR = 0,
  IER = 1,
  IIR = 2,
  LCR = 3,
  MCR = 4,
  LSR = 5,
  MSR = 6,
  SCR = 7;

describe('Serial8250', () => {
  it('captures THR writes as output and reports THR empty in LSR', () => {
    const s = Serial8250.create(64);
    for (const c of 'ok\n') s.write(THR, c.charCodeAt(0));
    expect(new TextDecoder().decode(s.output.drain())).toBe('ok\n');
    expect(s.read(LSR) & 0x60).toBe(0x60);
  });

  it('routes offsets 0 and 1 to the divisor latch while DLAB is set', () => {
    const s = Serial8250.create(64);
    s.write(LCR, 0x83);
    s.write(THR, 0x01);
    s.write(IER, 0x00);
    expect(s.read(THR)).toBe(0x01);
    expect(s.output.available).toBe(0);
    s.write(LCR, 0x03);
    s.write(IER, 0x0f);
    expect(s.read(IER)).toBe(0x0f);
    expect(s.read(LCR)).toBe(0x03);
  });

  it('keeps the scratch register', () => {
    const s = Serial8250.create(64);
    s.write(SCR, 0x5a);
    expect(s.read(SCR)).toBe(0x5a);
  });

  it('delivers injected input through RBR with LSR.DR and an RDA interrupt', () => {
    const s = Serial8250.create(64);
    s.write(IER, 0x01);
    expect(s.read(LSR) & 0x01).toBe(0);
    s.inject(Uint8Array.of(0x61));
    expect(s.read(LSR) & 0x01).toBe(1);
    expect(s.read(IIR) & 0x0f).toBe(0x04);
    expect(s.read(THR)).toBe(0x61);
    expect(s.read(LSR) & 0x01).toBe(0);
    expect(s.read(IIR) & 0x0f).toBe(0x01);
  });

  it('raises THRE when enabled and acknowledges it on an IIR read', () => {
    const levels: boolean[] = [];
    const s = Serial8250.create(64);
    const t = new Serial8250(s.shared, (l) => levels.push(l));
    t.write(IER, 0x02);
    expect(levels.at(-1)).toBe(true);
    expect(t.read(IIR) & 0x0f).toBe(0x02);
    expect(levels.at(-1)).toBe(false);
    expect(t.read(IIR) & 0x0f).toBe(0x01);
    t.write(THR, 0x41);
    expect(levels.at(-1)).toBe(true);
  });

  it('reports FIFO state in IIR once FCR enables it', () => {
    const s = Serial8250.create(64);
    expect(s.read(IIR) & 0xc0).toBe(0);
    s.write(IIR, 0x07);
    expect(s.read(IIR) & 0xc0).toBe(0xc0);
  });

  it('loops THR back to RBR and mirrors MCR into MSR in loopback mode', () => {
    const s = Serial8250.create(64);
    expect(s.read(MSR)).toBe(0xb0);
    s.write(MCR, 0x10 | 0x0b);
    s.write(THR, 0x55);
    expect(s.output.available).toBe(0);
    expect(s.read(THR)).toBe(0x55);
    expect(s.read(MSR)).toBe(0x20 | 0x10 | 0x80);
  });

  it('shares one device between handles over the same memory', () => {
    const a = Serial8250.create(64);
    const b = new Serial8250(a.shared);
    a.write(THR, 0x41);
    b.write(THR, 0x42);
    expect(new TextDecoder().decode(a.output.drain())).toBe('AB');
  });

  it('wraps the output ring without losing bytes', () => {
    const s = Serial8250.create(8);
    const got: number[] = [];
    for (let i = 0; i < 20; i++) {
      s.write(THR, i);
      if (i % 5 === 4) got.push(...s.output.drain());
    }
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });
});

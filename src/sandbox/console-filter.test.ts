import { describe, expect, test } from 'vitest';
import { type ConsoleEvent, ConsoleFilter, stripCrBeforeLf } from './console-filter.ts';

const NONCE = 'c0ffee';
const M = `SCHEDVM-${NONCE} `;

/** Feeds `text` in chunks of `size` bytes; returns output text and the other events. */
function feed(text: string, size: number, filter = new ConsoleFilter(NONCE)) {
  const events: ConsoleEvent[] = [];
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += size) events.push(...filter.push(bytes.subarray(i, i + size)));
  events.push(...filter.end());
  const output = Buffer.concat(events.flatMap((e) => (e.kind === 'output' ? [e.data] : []))).toString();
  return { output, markers: events.filter((e) => e.kind !== 'output'), filter };
}

const boot = 'SeaBIOS\r\n\x1b[2J[    0.000] Linux version\r\n';

describe('ConsoleFilter', () => {
  test.each([1, 2, 3, 7, 1000])('separates boot, output and exit status in %i-byte chunks', (size) => {
    const { output, markers, filter } = feed(`${boot}${M}start\r\nline 1\r\nline 2\r\n${M}exit 3\r\n[ 9.1] reboot: Power down\r\n`, size);
    expect(output).toBe('line 1\nline 2\n');
    expect(markers).toEqual([{ kind: 'start' }, { kind: 'exit', status: 3 }]);
    expect(filter.bootLog()).toContain('Linux version');
  });

  test('a heartbeat carries its counters, with or without them, and is not output', () => {
    const { output, markers } = feed(`${M}start\r\n${M}alive\r\nx\r\n${M}alive exits=12 load=0.50 0.20\r\n${M}exit 0\r\n`, 4);
    expect(output).toBe('x\n');
    expect(markers).toEqual([{ kind: 'start' }, { kind: 'alive', stats: '' }, { kind: 'alive', stats: 'exits=12 load=0.50 0.20' }, { kind: 'exit', status: 0 }]);
  });

  test.each([1, 5, 1000])('finds the exit marker after output without a final newline (%i-byte chunks)', (size) => {
    const { output, markers } = feed(`${M}start\r\nno newline${M}exit 0\r\n`, size);
    expect(output).toBe('no newline');
    expect(markers).toEqual([{ kind: 'start' }, { kind: 'exit', status: 0 }]);
  });

  test('keeps lone CRs and text that only resembles a marker', () => {
    const { output } = feed(`${M}start\r\nprogress\r50%\rSCHEDVM-other exit 1\r\nSCHEDVM-${NONCE}x\r\n${M}exit 0\r\n`, 4);
    expect(output).toBe('progress\r50%\rSCHEDVM-other exit 1\nSCHEDVM-c0ffeex\n');
  });

  test('reports an init failure and nothing as output', () => {
    const { output, markers, filter } = feed(`${boot}schedvm sandbox init: mounting the host root over 9p failed\r\n${M}failed\r\n`, 3);
    expect(output).toBe('');
    expect(markers).toEqual([{ kind: 'failed' }]);
    expect(filter.bootLog()).toContain('mounting the host root over 9p failed');
  });

  test('flushes held-back bytes as output when the console ends mid-command', () => {
    const { output, markers } = feed(`${M}start\r\npartial\rSCHEDV`, 1000);
    expect(output).toBe('partial\rSCHEDV');
    expect(markers).toEqual([{ kind: 'start' }]);
  });

  test('passes binary output through unchanged', () => {
    const filter = new ConsoleFilter(NONCE);
    filter.push(Buffer.from(`${M}start\r\n`));
    const bin = Buffer.from([0, 0xff, 0xfe, 0x80, 0x0a]);
    const out = filter.push(bin);
    expect(out).toEqual([{ kind: 'output', data: bin }]);
  });
});

test('stripCrBeforeLf turns CRLF into LF only', () => {
  expect(stripCrBeforeLf(Buffer.from('a\r\nb\rc\r\r\n')).toString()).toBe('a\nb\rc\r\n');
});

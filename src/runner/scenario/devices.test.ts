// The scenario's devices field: defaults, disk paths relative to the file naming them, located errors.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadScenario, parseScenario } from './load.ts';
import { scenarioProblems } from './problems.testing.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'schedvm-devices-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const LINUX = 'name: d\nkernel: debian-sched-ext\n';
const problems = (text: string, file = join(dir, 'x.yaml')) => scenarioProblems(text, file);

describe('scenario devices', () => {
  it('fills the defaults: both UARTs, serial console, no disks, no network, queues on the device thread', () => {
    expect(parseScenario(`${LINUX}devices: { console: virtio }\n`, join(dir, 'x.yaml')).devices).toEqual({
      serial: ['com1', 'com2'],
      console: 'virtio',
      blk: [],
      queue_work: 'thread',
    });
    expect(parseScenario(`${LINUX}devices: { net: {} }\n`, join(dir, 'x.yaml')).devices?.net).toEqual({ backend: 'peer' });
  });

  it('resolves a disk path against the scenario file and keeps readonly', () => {
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'disk.img'), new Uint8Array(4096));
    writeFileSync(join(dir, 'sub', 's.yaml'), `${LINUX}devices:\n  blk:\n    - { path: disk.img, readonly: true }\n    - path: disk.img\n`);
    expect(loadScenario(join(dir, 'sub', 's.yaml')).devices?.blk).toEqual([
      { path: join(dir, 'sub', 'disk.img'), readonly: true },
      { path: join(dir, 'sub', 'disk.img'), readonly: false },
    ]);
  });

  it('resolves a disk named in an extended base against the base file', () => {
    mkdirSync(join(dir, 'base'));
    writeFileSync(join(dir, 'base', 'disk.img'), new Uint8Array(512));
    writeFileSync(join(dir, 'base', 'b.yaml'), `${LINUX}devices:\n  blk: [{ path: disk.img }]\n`);
    writeFileSync(join(dir, 'top.yaml'), 'extends: base/b.yaml\nname: top\n');
    expect(loadScenario(join(dir, 'top.yaml')).devices!.blk[0]!.path).toBe(join(dir, 'base', 'disk.img'));
  });

  it('names file, line, field and the missing image', () => {
    expect(problems(`${LINUX}devices:\n  blk:\n    - path: nope.img\n`)).toBe(`${join(dir, 'x.yaml')}:5:13: devices.blk.0.path: cannot use ${join(dir, 'nope.img')} as a disk image: ENOENT`);
    expect(problems(`${LINUX}devices:\n  blk:\n    - path: .\n`)).toMatch(/:5:13: devices\.blk\.0\.path: .* is not a regular file/);
  });

  it('refuses virtio devices on bare-metal guests, at the device', () => {
    expect(problems('name: b\nguest: hello\ndevices:\n  console: virtio\n')).toMatch(/x\.yaml:4:12: devices\.console: virtio devices need a Linux guest/);
    expect(problems('name: b\nguest: hello\ndevices:\n  net: { backend: peer }\n')).toMatch(/devices\.net: virtio devices need a Linux guest/);
    expect(parseScenario('name: b\nguest: hello\ndevices: { serial: [com2] }\n', 'b.yaml').devices?.serial).toEqual(['com2']);
  });

  it('needs com1 for a serial console, and each port once', () => {
    expect(problems(`${LINUX}devices: { serial: [com2] }\n`)).toMatch(/devices\.console: the serial console is ttyS0 on com1/);
    expect(parseScenario(`${LINUX}devices: { serial: [], console: virtio }\n`, 'x.yaml').devices?.serial).toEqual([]);
    expect(problems(`${LINUX}devices: { serial: [com1, com1] }\n`)).toMatch(/devices\.serial: lists a port twice/);
    expect(problems(`${LINUX}devices: { net: { backend: slirp } }\n`)).toMatch(/devices\.net\.backend: .*"peer"\|"tap"/);
  });

  it('takes TAP settings only with backend: tap, and checks them', () => {
    const net = (n: string) => `${LINUX}devices:\n  net: ${n}\n`;
    expect(parseScenario(net('{ backend: tap }'), 'x.yaml').devices?.net).toEqual({ backend: 'tap' });
    expect(parseScenario(net('{ backend: tap, tap: { host_address: 10.0.2.2/24 } }'), 'x.yaml').devices?.net?.tap).toEqual({
      name: 'schedvm%d',
      host_address: '10.0.2.2/24',
    });
    expect(problems(net('{ backend: peer, tap: { name: tap0 } }'))).toMatch(/x\.yaml:4:\d+: devices\.net\.tap: is only for backend: tap/);
    expect(problems(net('{ backend: tap, tap: { name: my tap } }'))).toMatch(/devices\.net\.tap\.name: must be 1\.\.15 characters/);
    expect(problems(net('{ backend: tap, tap: { host_address: 10.0.2.2 } }'))).toMatch(/devices\.net\.tap\.host_address: must be an IPv4 address with a prefix length/);
  });
});

describe('scheduler binary', () => {
  it('resolves against the scenario file that names it, through extends', () => {
    mkdirSync(join(dir, 'base'));
    writeFileSync(join(dir, 'base', 'my_sched'), '#!/bin/sh\n');
    writeFileSync(join(dir, 'base', 'base.yaml'), `${LINUX}scheduler: { binary: my_sched }\n`);
    writeFileSync(join(dir, 'top.yaml'), 'extends: base/base.yaml\nname: top\n');
    expect(loadScenario(join(dir, 'top.yaml')).scheduler?.binary).toBe(join(dir, 'base', 'my_sched'));
  });

  it('names the field and the file when the binary is missing', () => {
    expect(problems(`${LINUX}scheduler:\n  binary: ./nope\n`)).toBe(`${join(dir, 'x.yaml')}:4:11: scheduler.binary: cannot use ${join(dir, 'nope')} as a scheduler loader: ENOENT`);
  });
});

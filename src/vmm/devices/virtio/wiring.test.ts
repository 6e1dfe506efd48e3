// A VM's virtio wiring without KVM: windows and GSIs as ACPI will describe them, a vCPU-side
// instance and the VMM-side host sharing one device, irqfds per device, files closed at stop.
import { fstatSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { VmFd } from '../../kvm.ts';
import { DeviceId, Reg } from './constants.ts';
import { TRANSMITQ } from './console/device.ts';
import { InProcessPeer } from './net/backend.ts';
import { TestDriver } from './testing/driver.ts';
import { testEnv, type TestEnv } from './testing/fixture.ts';
import { attachVirtioDevices, planVirtioWindows, VIRTIO_MMIO_BASE, VirtioHost } from './wiring.ts';

let t: TestEnv | undefined;
let dir: string | undefined;
afterEach(() => {
  t?.memory.release();
  if (dir) rmSync(dir, { recursive: true, force: true });
  t = dir = undefined;
});

/** A VmFd stand-in that records irqfd registrations. */
function fakeVm(): { vm: VmFd; irqfds: Array<{ fd: number; gsi: number }> } {
  const irqfds: Array<{ fd: number; gsi: number }> = [];
  return { vm: { irqfd: (fd: number, gsi: number) => void irqfds.push({ fd, gsi }) } as unknown as VmFd, irqfds };
}

function disk(name: string): string {
  dir ??= mkdtempSync(join(tmpdir(), 'schedvm-wiring-'));
  const path = join(dir, name);
  writeFileSync(path, new Uint8Array(8192));
  return path;
}

describe('planVirtioWindows', () => {
  it('puts console, each disk, then net in consecutive 4 KiB pages from 0xd0000000 on GSIs 5, 6, 7, 16...', () => {
    const w = planVirtioWindows({ console: true, blk: [{ path: 'a' }, { path: 'b' }], net: { backend: new InProcessPeer() } });
    expect(w.map((x) => [x.kind, x.base, x.gsi])).toEqual([
      ['console', VIRTIO_MMIO_BASE, 5],
      ['blk', VIRTIO_MMIO_BASE + 0x1000, 6],
      ['blk', VIRTIO_MMIO_BASE + 0x2000, 7],
      ['net', VIRTIO_MMIO_BASE + 0x3000, 16],
    ]);
    expect(planVirtioWindows({})).toEqual([]);
  });

  it('refuses more devices than it has interrupt lines', () => {
    expect(() => planVirtioWindows({ blk: Array.from({ length: 12 }, () => ({ path: 'x' })) })).toThrow(/at most 11 virtio devices/);
  });
});

describe('VirtioHost and attachVirtioDevices', () => {
  it('registers one irqfd per device and gives vCPU threads windows at the planned addresses', () => {
    t = testEnv();
    const config = { console: true, blk: [{ path: disk('a.img'), readOnly: true }], net: { backend: new InProcessPeer() } };
    const windows = planVirtioWindows(config);
    const { vm, irqfds } = fakeVm();
    const host = VirtioHost.create(config, windows, vm, t.memory);
    try {
      expect(irqfds.map((i) => i.gsi)).toEqual([5, 6, 7]);
      expect(new Set(irqfds.map((i) => i.fd)).size).toBe(3);
      const mmio = attachVirtioDevices(host.wiring, t.memory);
      expect(mmio.map((d) => d.base)).toEqual(windows.map((w) => w.base));
      const ids = mmio.map((d) => new TestDriver(t!.memory, d).reg(Reg.DeviceId));
      expect(ids).toEqual([DeviceId.Console, DeviceId.Block, DeviceId.Net]);
    } finally {
      host.stop();
    }
  });

  it('hands what the guest wrote to a vCPU-side console to the host side, and closes the disks at stop', () => {
    t = testEnv();
    const config = { console: true, blk: [{ path: disk('b.img') }] };
    const host = VirtioHost.create(config, planVirtioWindows(config), fakeVm().vm, t.memory);
    const [console] = attachVirtioDevices(host.wiring, t.memory);
    const drv = new TestDriver(t.memory, console!);
    const [, tx] = drv.start([16, 16]);
    tx!.add([{ data: new TextEncoder().encode('hello hvc0\n') }]);
    drv.setReg(Reg.QueueNotify, TRANSMITQ);
    expect(new TextDecoder().decode(host.drainConsole())).toBe('hello hvc0\n');
    expect(host.faults()).toEqual([]);
    const fd = host.wiring.blk[0]!.shared.fd;
    host.stop();
    expect(() => fstatSync(fd)).toThrow(/EBADF/);
    host.stop(); // idempotent
  });

  it('reports a device the guest broke, by name', () => {
    t = testEnv();
    const config = { blk: [{ path: disk('c.img') }] };
    const host = VirtioHost.create(config, planVirtioWindows(config), fakeVm().vm, t.memory);
    try {
      const [blk] = attachVirtioDevices(host.wiring, t.memory);
      const [q] = new TestDriver(t.memory, blk!).start([16]);
      q!.setAvailIdx(100); // 100 new buffers on a 16-entry queue
      q!.kick();
      expect(host.faults()).toEqual([{ device: 'blk0', fault: 'avail-index' }]);
    } finally {
      host.stop();
    }
  });
});

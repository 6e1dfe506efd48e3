// The TAP backend on this host's kernel: creation, naming, a frame into the host's stack, and
// removal on close. Needs /dev/net/tun and root; no traffic leaves the host (the frame is a
// broadcast of an experimental EtherType on an interface with no address).
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TapBackend } from './tap.ts';

const canTap = existsSync('/dev/net/tun') && process.getuid?.() === 0;
const stat = (ifname: string, what: string) => Number(readFileSync(`/sys/class/net/${ifname}/statistics/${what}`, 'utf8'));

describe.runIf(canTap)('TapBackend', () => {
  it('creates a TAP, brings it up, hands it frames, and removes it on close', () => {
    const tap = new TapBackend();
    tap.onFrame(() => {});
    try {
      expect(tap.name).toMatch(/^schedvm\d+$/);
      expect(readFileSync(`/sys/class/net/${tap.name}/flags`, 'utf8').trim()).toMatch(/^0x1[0-9a-f]{3}$/); // IFF_UP
      const before = stat(tap.name, 'rx_packets');
      const frame = new Uint8Array(60);
      frame.fill(0xff, 0, 6); // broadcast
      frame.set([0x52, 0x54, 0x00, 0x12, 0x34, 0x56], 6);
      frame.set([0x88, 0xb5], 12); // IEEE local experimental EtherType
      tap.send(frame);
      expect(stat(tap.name, 'rx_packets')).toBe(before + 1);
    } finally {
      tap.close();
    }
    expect(existsSync(`/sys/class/net/${tap.name}`)).toBe(false);
    tap.close(); // idempotent
  });

  it('names the fix when the TAP is taken', () => {
    const a = new TapBackend({ name: 'schedvmtest0' });
    a.onFrame(() => {});
    try {
      expect(() => new TapBackend({ name: 'schedvmtest0' }).onFrame(() => {})).toThrow(/TUNSETIFF schedvmtest0 failed: EBUSY \(another process has this TAP open\)/);
    } finally {
      a.close();
    }
  });
});

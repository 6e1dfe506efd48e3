// The virtio-mmio devices under a real Linux guest (Debian's sched_ext kernel): one boot with a
// virtio console, a read-write and a read-only ext4 disk built here, and a network card whose
// other end is the in-process peer. Each test below checks one device on that boot's result.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARP_REQUEST, IPPROTO_ICMP, parseArp } from '../vmm/devices/virtio/net/frames.ts';
import { PEER_IP } from '../vmm/devices/virtio/net/gateway.ts';
import type { PreparedScenario, ScenarioResult } from './prepare.ts';
import { runScenario } from './run-scenario.ts';
import { parseScenario } from './scenario/load.ts';

const BOOT_TIMEOUT_MS = 900_000;
const GUEST_MAC = '52:54:00:12:34:56';
/** Written by this test into the images, read back by the guest. */
const SECRET = `schedvm-disk-${process.pid}-${Date.now()}`;

// The guest's side: every check prints one tagged line the tests look for.
const RUN = `
echo "blk-serial $(cat /sys/block/vda/serial)"
mkdir -p /mnt/rw /mnt/ro
mount -t ext4 /dev/vda /mnt/rw && echo "rw-read $(cat /mnt/rw/hello.txt)"
echo "from the guest: $(cat /mnt/rw/hello.txt)" > /mnt/rw/guest.txt
sync
umount /mnt/rw && echo "rw-umount ok"
mount -t ext4 -o ro /dev/vdb /mnt/ro && echo "ro-read $(cat /mnt/ro/hello.txt)"
umount /mnt/ro
echo "ro-flag $(cat /sys/block/vdb/ro)"
dd if=/dev/zero of=/dev/vdb bs=4096 count=1 oflag=direct conv=fsync 2>/dev/null
echo "ro-dd-exit $?"
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
echo "net-mac $(cat /sys/class/net/eth0/address)"
ping -c 2 -W 30 ${PEER_IP}  # emulated (the sandbox), a reply can take seconds
echo "ping-exit $?"
`;

let dir: string;
let rwImage: string;
let roImage: string;
let roHashBefore: string;
let prepared: PreparedScenario;
let result: ScenarioResult;

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const line = (tag: string) => new RegExp(`^${tag} (.*)$`, 'm').exec(result.console.hvc0)?.[1]?.trim();

/** An ext4 image holding hello.txt, made unprivileged with mkfs.ext4 -d. */
function ext4Image(name: string): string {
  const content = join(dir, `${name}.d`);
  mkdirSync(content);
  writeFileSync(join(content, 'hello.txt'), `${SECRET} ${name}\n`);
  const img = join(dir, `${name}.img`);
  execFileSync('mkfs.ext4', ['-q', '-F', '-d', content, img, '8M'], { stdio: 'pipe' });
  return img;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'schedvm-virtio-'));
  rwImage = ext4Image('rw');
  roImage = ext4Image('ro');
  roHashBefore = sha256(roImage);
  const yaml = [
    'name: virtio-devices',
    'kernel: debian-sched-ext',
    'vcpus: 2',
    'memory_mb: 512',
    'timeout_s: 300',
    'devices:',
    '  console: virtio',
    '  blk:',
    '    - path: rw.img',
    '    - { path: ro.img, readonly: true }',
    '  net: { backend: peer }',
    'run: |',
    ...RUN.trim()
      .split('\n')
      .map((l) => `  ${l}`),
  ].join('\n');
  const scenario = parseScenario(`${yaml}\n`, join(dir, 'devices.yaml'));
  result = await runScenario(scenario, { onPrepared: (p) => (prepared = p) });
  process.stderr.write(`virtio boot: wall ${Math.round(result.wallMs)} ms, boot to init ${Math.round(result.bootMs ?? -1)} ms\n`);
}, BOOT_TIMEOUT_MS);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('virtio-mmio devices in a Linux guest', () => {
  it('virtio-console carries the console: kernel log, /init and its report on hvc0, nothing on the UART', () => {
    expect(result.exitAction, result.console.hvc0.slice(-3000) || result.console.com1.slice(-3000)).toBe('Shutdown');
    expect(result.panic).toBeUndefined();
    expect(result.console.hvc0).toMatch(/Linux version 7\./); // the log from before hvc0 existed, replayed
    expect(result.console.hvc0).toContain('schedvm-init: run exit 0');
    expect(result.guest?.online).toEqual([0, 1]);
    expect(result.bootMs).toBeGreaterThan(0);
    expect(result.console.com1).toBe('');
    expect(result.deviceFaults).toBeUndefined();
  });

  it('a device thread works the queues: the guest notifies through ioeventfds, each vCPU thread accounts its time', () => {
    expect(result.deviceThread?.notifies).toBeGreaterThan(0);
    expect(result.deviceThread?.cpuMs).toBeGreaterThanOrEqual(0);
    for (const v of result.vcpus) expect(v.cpuMs, `vCPU ${v.index}`).toBeDefined();
    expect(result.vcpus.reduce((sum, v) => sum + v.cpuMs!.guest, 0)).toBeGreaterThan(0);
    process.stderr.write(`virtio device thread: ${JSON.stringify(result.deviceThread)}; vCPU CPU ms: ${JSON.stringify(result.vcpus.map((v) => v.cpuMs))}\n`);
  });

  it('virtio-blk read-write: the guest reads the image, and its write is in the image after shutdown', () => {
    expect(line('blk-serial')).toBe('rw.img'); // GET_ID: the file name
    expect(line('rw-read')).toBe(`${SECRET} rw`);
    expect(line('rw-umount')).toBe('ok');
    const written = execFileSync('debugfs', ['-R', 'cat /guest.txt', rwImage], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(written).toBe(`from the guest: ${SECRET} rw\n`);
  });

  it('virtio-blk read-only: readable, the guest sees it read-only, a forced write fails, the image is unchanged', () => {
    expect(line('ro-read')).toBe(`${SECRET} ro`);
    expect(line('ro-flag')).toBe('1');
    expect(Number(line('ro-dd-exit'))).not.toBe(0);
    expect(sha256(roImage)).toBe(roHashBefore);
  });

  it('virtio-net: the guest resolves the peer by ARP and gets its pings answered', () => {
    expect(line('net-mac')).toBe(GUEST_MAC);
    expect(result.console.hvc0).toMatch(/2 packets transmitted, 2 packets received/);
    expect(line('ping-exit')).toBe('0');
    const peer = prepared.netPeer!;
    const arp = peer.received.map(parseArp).find((a) => a?.op === ARP_REQUEST && a.targetIp === PEER_IP);
    expect(arp?.senderMac).toBe(GUEST_MAC);
    const pings = peer.received.filter((f) => f[12] === 0x08 && f[13] === 0x00 && f[14 + 9] === IPPROTO_ICMP);
    expect(pings.length).toBeGreaterThanOrEqual(2);
  });
});

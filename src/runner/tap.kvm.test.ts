// virtio-net over a host TAP: a Linux guest pings the host's address on the TAP, so frames
// cross the host kernel in both directions (ARP, ICMP echo and reply). Needs /dev/net/tun and
// CAP_NET_ADMIN: the sandbox has both (it loads tun and runs the command as root).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PreparedScenario, ScenarioResult } from './prepare.ts';
import { runScenario } from './run-scenario.ts';
import { parseScenario } from './scenario/load.ts';

const HOST_IP = '10.0.2.2';
const canTap = existsSync('/dev/net/tun') && process.getuid?.() === 0;
if (!canTap) process.stderr.write('tap.kvm.test: no /dev/net/tun or not root here: the TAP backend is not tested\n');

let dir: string;
let result: ScenarioResult;
let tapName = '';

const line = (tag: string) => new RegExp(`^${tag} (.*)$`, 'm').exec(result.console.com1)?.[1]?.trim();

beforeAll(async () => {
  if (!canTap) return;
  dir = mkdtempSync(join(tmpdir(), 'schedvm-tap-'));
  const yaml = `
name: virtio-net-tap
kernel: debian-sched-ext
vcpus: 1
memory_mb: 512
timeout_s: 300
devices:
  net: { backend: tap, tap: { host_address: ${HOST_IP}/24 } }
run: |
  ip link set eth0 up
  ip addr add 10.0.2.15/24 dev eth0
  ping -c 3 -W 5 ${HOST_IP}
  echo "ping-exit $?"
  echo "neigh $(ip neigh show ${HOST_IP})"
`;
  const scenario = parseScenario(yaml, join(dir, 'tap.yaml'));
  let tap: PreparedScenario['netTap'];
  result = await runScenario(scenario, {
    onPrepared: (p) => (tap = p.netTap),
    onStarted: () => (tapName = tap!.name), // named once the VM's device has joined it
  });
}, 900_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.runIf(canTap)('virtio-net with backend: tap', () => {
  it('the guest pings the host through the TAP', () => {
    expect(result.exitAction, result.console.com1.slice(-3000)).toBe('Shutdown');
    expect(tapName).toMatch(/^schedvm\d+$/);
    expect(result.console.com1).toMatch(/3 packets transmitted, 3 packets received/);
    expect(line('ping-exit')).toBe('0');
    expect(line('neigh')).toMatch(/lladdr [0-9a-f:]{17}/); // the host answered ARP with the TAP's MAC
    expect(result.deviceFaults).toBeUndefined();
  });

  it('the TAP it created is gone once the VM has stopped', () => {
    expect(tapName).toMatch(/^schedvm\d+$/); // else the path below is /sys/class/net itself
    expect(existsSync(`/sys/class/net/${tapName}`)).toBe(false);
  });
});

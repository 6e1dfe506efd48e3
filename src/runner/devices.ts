// A scenario's devices as the VM gets them: UARTs and virtio-mmio devices, the kernel modules
// their Linux drivers need in the initramfs, and where the guest's console goes.
import { UserError } from '../errors.ts';
import { moduleInsmodPaths } from '../fixtures/initramfs/builder.ts';
import type { Kernel } from '../fixtures/kernels/index.ts';
import type { InProcessPeer, NetBackend } from '../vmm/devices/virtio/net/backend.ts';
import { gatewayPeer } from '../vmm/devices/virtio/net/gateway.ts';
import { TapBackend } from '../vmm/devices/virtio/net/tap.ts';
import { poolThreadsForVcpus } from '../vmm/vcpu/pool.ts';
import type { ConsolePort, VmDevices } from '../vmm/vm.ts';
import type { Scenario } from './scenario/schema.ts';

export interface ScenarioDevices {
  devices: VmDevices;
  /** The console the Linux guest's kernel and /init write to. */
  console: 'com1' | 'hvc0';
  /** Driver modules the guest must load (virtio_mmio, virtio_blk, ...). */
  drivers: string[];
  /** The in-process host behind `net: { backend: peer }`: what the guest sent, and ARP/ping answers. */
  netPeer?: InProcessPeer;
  /** The host TAP behind `net: { backend: tap }` (opened when the VM starts). */
  netTap?: TapBackend;
}

/** Whether the scenario's VM has a device thread: virtio devices whose queues it works. */
function hasDeviceThread(s: Scenario): boolean {
  const d = s.devices;
  return d !== undefined && d.queue_work === 'thread' && (d.console === 'virtio' || d.blk.length > 0 || d.net !== undefined);
}

/** Pool threads the scenario's VM takes: its vCPUs' (poolThreadsForVcpus), and its device thread. */
export function poolThreadsFor(s: Scenario): number {
  return poolThreadsForVcpus(s.vcpus) + (hasDeviceThread(s) ? 1 : 0);
}

export function scenarioDevices(s: Scenario): ScenarioDevices {
  const d = s.devices;
  const virtioConsole = d?.console === 'virtio';
  const blk = d?.blk ?? [];
  const net = d?.net;
  const netPeer = net?.backend === 'peer' ? gatewayPeer() : undefined;
  const netTap = net?.backend === 'tap' ? new TapBackend({ ...(net.tap ? { name: net.tap.name } : {}), ...(net.tap?.host_address ? { hostAddress: net.tap.host_address } : {}) }) : undefined;
  const netBackend: NetBackend | undefined = netPeer ?? netTap;
  const drivers = [...(virtioConsole ? ['virtio_console'] : []), ...(blk.length > 0 ? ['virtio_blk'] : []), ...(netBackend ? ['virtio_net'] : [])];
  return {
    devices: {
      serial: d?.serial ?? ['com1', 'com2'],
      ...(virtioConsole ? { console: true } : {}),
      ...(blk.length > 0 ? { blk: blk.map((b) => ({ path: b.path, readOnly: b.readonly })) } : {}),
      ...(netBackend ? { net: { backend: netBackend } } : {}),
      queueWork: d?.queue_work ?? 'thread',
    },
    console: virtioConsole ? 'hvc0' : 'com1',
    drivers: drivers.length > 0 ? ['virtio_mmio', ...drivers] : [],
    ...(netPeer ? { netPeer } : {}),
    ...(netTap ? { netTap } : {}),
  };
}

/** The kernel command line's console= for it. */
export function consoleArg(dev: ScenarioDevices): string {
  return dev.console === 'hvc0' ? 'console=hvc0' : 'console=ttyS0';
}

/**
 * What the initramfs and /init need for the drivers: the module files (with dependencies, in
 * load order) unless the kernel has them built in.
 */
export function driverModules(dev: ScenarioDevices, kernel: Kernel): { dir: string; names: string[]; paths: string[] } | undefined {
  if (dev.drivers.length === 0) return undefined;
  if (!kernel.modulesDir) {
    const missing = dev.drivers.filter((m) => kernel.config?.get(`CONFIG_${m.toUpperCase()}`) !== 'y');
    if (missing.length === 0) return undefined;
    throw new UserError(`kernel ${kernel.version} has no modules directory, and ${missing.join(', ')} may not be built in: the devices need them`);
  }
  return { dir: kernel.modulesDir, names: dev.drivers, paths: moduleInsmodPaths(kernel.modulesDir, dev.drivers) };
}

/** The guest console's text in a result: hvc0 for a virtio console, else COM1. */
export function guestConsoleText(s: Scenario, console: Record<ConsolePort, string>): string {
  return s.devices?.console === 'virtio' ? console.hvc0 : console.com1;
}

// One VM's virtio-mmio devices: where each window and GSI is, the state every vCPU thread shares,
// the irqfds that raise their interrupts, and the host side (console output, net backend).
import type { MmioDevice } from '../../exits.ts';
import type { GuestPhysAddr } from '../../guest-address.ts';
import type { VmFd } from '../../kvm.ts';
import type { GuestMemory } from '../../memory.ts';
import { close, EFD_CLOEXEC, EFD_NONBLOCK, errno, eventfd, eventfdSignal, OsError } from '../../sys/libc.ts';
import { VirtioBlock, type VirtioBlockShared } from './block/device.ts';
import { VirtioConsole, type VirtioConsoleShared } from './console/device.ts';
import { Reg, VIRTIO_MMIO_SIZE } from './constants.ts';
import type { VirtioEnv } from './device.ts';
import { FAULTS, type Fault } from './errors.ts';
import type { NetBackend } from './net/backend.ts';
import { VirtioNet, type NetLink, type VirtioNetShared } from './net/device.ts';
import { queueCount, W_FAULT } from './state.ts';
import type { MmioTransport } from './mmio.ts';
import { VmmConfigError } from '../../errors.ts';

/** First window: above RAM's 3 GiB, below the IOAPIC; one 4 KiB page per device. */
export const VIRTIO_MMIO_BASE = 0xd000_0000;
export const VIRTIO_MMIO_STRIDE = 0x1000;
/** ISA IRQs nothing else uses, then IOAPIC pins above the ISA range. */
const VIRTIO_GSIS = [5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23] as const;

export interface VirtioDevicesConfig {
  /** A virtio-console (the guest's hvc0). */
  console?: boolean;
  /** virtio-blk disks over image files, in order (the guest's vda, vdb, ...). */
  blk?: Array<{ path: string; readOnly?: boolean }>;
  /** A virtio-net card whose frames go to `backend` (on the VMM's thread). */
  net?: { backend: NetBackend; mac?: string };
}

export type VirtioKind = 'console' | 'blk' | 'net';

export interface VirtioWindow {
  kind: VirtioKind;
  base: GuestPhysAddr;
  size: number;
  /** IOAPIC pin, raised as an edge through an irqfd. */
  gsi: number;
}

/** Windows in a fixed order (console, each blk, net), so ACPI and the VMM agree. */
export function planVirtioWindows(c: VirtioDevicesConfig): VirtioWindow[] {
  const kinds: VirtioKind[] = [...(c.console ? ['console' as const] : []), ...(c.blk ?? []).map(() => 'blk' as const), ...(c.net ? ['net' as const] : [])];
  if (kinds.length > VIRTIO_GSIS.length) throw new VmmConfigError(`at most ${VIRTIO_GSIS.length} virtio devices, got ${kinds.length}`);
  return kinds.map((kind, i) => ({ kind, base: VIRTIO_MMIO_BASE + i * VIRTIO_MMIO_STRIDE, size: VIRTIO_MMIO_SIZE, gsi: VIRTIO_GSIS[i]! }));
}

/**
 * One device's wiring: its shared state, the irqfd that raises its interrupt, and, when the
 * device thread works its queues, one ioeventfd per queue that a QueueNotify of it signals.
 */
export interface WiredDevice<S> {
  shared: S;
  irqFd: number;
  notifyFds?: number[];
}

/** What a vCPU thread (or the device thread) needs to drive the devices (SharedArrayBuffers, fds and numbers only). */
export interface VirtioWiring {
  console?: WiredDevice<VirtioConsoleShared>;
  blk: Array<WiredDevice<VirtioBlockShared>>;
  net?: WiredDevice<VirtioNetShared>;
}

function envFor(memory: GuestMemory, irqFd: number): VirtioEnv {
  return { memory, interrupt: () => eventfdSignal(irqFd) };
}

/** This thread's own transports over the shared state, each with its queues' notify eventfds. */
export function attachVirtioTransports(w: VirtioWiring, memory: GuestMemory): Array<{ transport: MmioTransport; notifyFds: number[] }> {
  const wired = (d: WiredDevice<unknown>, transport: MmioTransport) => ({ transport, notifyFds: d.notifyFds ?? [] });
  return [
    ...(w.console ? [wired(w.console, new VirtioConsole(w.console.shared, envFor(memory, w.console.irqFd)).mmio)] : []),
    ...w.blk.map((b) => wired(b, new VirtioBlock(b.shared, envFor(memory, b.irqFd)).mmio)),
    ...(w.net ? [wired(w.net, new VirtioNet(w.net.shared, envFor(memory, w.net.irqFd)).mmio)] : []),
  ];
}

/** A vCPU thread's windows for its ExitBus. */
export function attachVirtioDevices(w: VirtioWiring, memory: GuestMemory): MmioDevice[] {
  return attachVirtioTransports(w, memory).map((d) => d.transport);
}

/** Whether the device thread works these devices' queues (their notifies never exit). */
export function notifiesOffVcpu(w: VirtioWiring): boolean {
  return [w.console, ...w.blk, w.net].some((d) => (d?.notifyFds?.length ?? 0) > 0);
}

/** The VMM-thread side of a VM's virtio devices. stop() once no vCPU thread runs. */
export class VirtioHost {
  private stopped = false;

  private constructor(
    readonly wiring: VirtioWiring,
    private readonly console: VirtioConsole | undefined,
    private readonly link: NetLink | undefined,
    private readonly fds: number[],
  ) {}

  /**
   * Opens the disks, registers one irqfd per device (the VM has its irqchip), joins the net
   * backend. With `notifyOffVcpu`, each queue's QueueNotify write signals an ioeventfd instead
   * of exiting: the device thread (serveQueueNotifies) works the queue, not the vCPU.
   */
  static create(config: VirtioDevicesConfig, windows: readonly VirtioWindow[], vm: VmFd, memory: GuestMemory, notifyOffVcpu = false): VirtioHost {
    const fds: number[] = [];
    const blkShared: VirtioBlockShared[] = [];
    try {
      const newFd = () => {
        const fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fd < 0) throw new OsError('eventfd', errno());
        fds.push(fd);
        return fd;
      };
      const irqFdFor = (w: VirtioWindow) => {
        const fd = newFd();
        vm.irqfd(fd, w.gsi);
        return fd;
      };
      // The driver writes the queue's index to QueueNotify (no VIRTIO_F_NOTIFICATION_DATA).
      const notifies = (w: VirtioWindow, transport: SharedArrayBuffer): { notifyFds?: number[] } => {
        if (!notifyOffVcpu) return {};
        const notifyFds = Array.from({ length: queueCount(transport) }, (_, q) => {
          const fd = newFd();
          vm.ioeventfd(fd, w.base + Reg.QueueNotify, 4, BigInt(q));
          return fd;
        });
        return { notifyFds };
      };
      const of = (kind: VirtioKind) => windows.filter((w) => w.kind === kind);
      const wiring: VirtioWiring = { blk: [] };
      const [cw] = of('console');
      if (cw) {
        const shared = VirtioConsole.createShared({ base: cw.base });
        wiring.console = { shared, irqFd: irqFdFor(cw), ...notifies(cw, shared.transport) };
      }
      of('blk').forEach((w, i) => {
        const disk = config.blk![i]!;
        const shared = VirtioBlock.createShared({ base: w.base, path: disk.path, readOnly: disk.readOnly ?? false });
        blkShared.push(shared);
        wiring.blk.push({ shared, irqFd: irqFdFor(w), ...notifies(w, shared.transport) });
      });
      const [nw] = of('net');
      if (nw) {
        const mac = config.net!.mac;
        const shared = VirtioNet.createShared({ base: nw.base, ...(mac ? { mac } : {}) });
        wiring.net = { shared, irqFd: irqFdFor(nw), ...notifies(nw, shared.transport) };
      }
      const console = wiring.console && new VirtioConsole(wiring.console.shared, envFor(memory, wiring.console.irqFd));
      const net = wiring.net && new VirtioNet(wiring.net.shared, envFor(memory, wiring.net.irqFd));
      return new VirtioHost(wiring, console, net?.connect(config.net!.backend), fds);
    } catch (e) {
      for (const s of blkShared) VirtioBlock.close(s);
      for (const fd of fds) close(fd);
      throw e;
    }
  }

  /** The guest's hvc0 output since the last call. */
  drainConsole(): Uint8Array {
    return this.console?.drainOutput() ?? new Uint8Array(0);
  }

  /** Devices the guest drove into DEVICE_NEEDS_RESET, and why (`blk0`, `console`, `net`). */
  faults(): Array<{ device: string; fault: Fault }> {
    const w = this.wiring;
    const devices: Array<[string, SharedArrayBuffer]> = [
      ...(w.console ? [['console', w.console.shared.transport] as [string, SharedArrayBuffer]] : []),
      ...w.blk.map((b, i): [string, SharedArrayBuffer] => [`blk${i}`, b.shared.transport]),
      ...(w.net ? [['net', w.net.shared.transport] as [string, SharedArrayBuffer]] : []),
    ];
    return devices.flatMap(([device, transport]) => {
      const f = Atomics.load(new Int32Array(transport), W_FAULT);
      return f === 0 ? [] : [{ device, fault: FAULTS[f - 1]! }];
    });
  }

  /** Stops the net link, closes the disks and the irqfds. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.link?.pump(); // the guest's last frames still reach the backend
    this.link?.stop();
    for (const b of this.wiring.blk) VirtioBlock.close(b.shared);
    for (const fd of this.fds) close(fd);
  }
}

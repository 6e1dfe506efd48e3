// What a VM is built from (VmConfig), and the checks the VMM makes of it. Limits a user writes
// are the scenario schema's to explain; these are the VMM's own invariants, as typed errors.
import type { VirtioDevicesConfig } from './devices/virtio/wiring.ts';
import { VmmConfigError } from './errors.ts';
import { flatTopology, formatTopology, MAX_X2APIC_ID, MAX_XAPIC_ID, validateTopology, vcpuCount, type Topology } from './topology.ts';
import { assignSlots, type WatchpointSpec } from './watchpoints.ts';
import type { GuestPayload } from './arch.ts';

export type SerialPort = 'com1' | 'com2';
/** The UARTs, and hvc0: the virtio-console. */
export type ConsolePort = SerialPort | 'hvc0';
export type WatchMechanism = 'debugregs' | 'writetrap';

export interface VmConfig {
  /** vCPU count; with a topology, it must match (or be left out). */
  vcpus?: number;
  /** CPU topology the guest sees (CPUID, ACPI MADT/SRAT/SLIT); default one LLC of `vcpus` cores. */
  topology?: Topology;
  memoryMb: number;
  guest: GuestPayload;
  /** The run ends with exitAction "Timeout" after this long. */
  timeoutMs?: number;
  /** Console output as it arrives. */
  onConsole?: (port: ConsolePort, text: string) => void;
  /** Hardware watchpoints (at most one exit_kind, three user). */
  watchpoints?: WatchpointSpec[];
  /**
   * How watchpoints are implemented: the x86 debug registers (default), or `writetrap`:
   * watched pages mapped read-only so stores exit to the VMM (write watches only), for hosts
   * whose (nested) KVM never reports debug-register hits. See probeWatchMechanism().
   */
  watchMechanism?: WatchMechanism;
  /** Keep guest RAM readable (vm.memory) after run() until dispose(); by default run() frees it. */
  keepMemory?: boolean;
  /** UARTs and virtio-mmio devices (virtio: Linux guests only, described in the DSDT). */
  devices?: VmDevices;
}

export interface VmDevices extends VirtioDevicesConfig {
  /** UARTs the guest sees; default both. */
  serial?: SerialPort[];
  /**
   * Where virtio queues are worked: `thread` (default), a device thread woken by ioeventfds,
   * so the vCPU that notified goes straight back to the guest; `vcpu`, on the vCPU thread
   * that took the notify's exit (what KVM without KVM_CAP_IOEVENTFD gets; kept for comparison).
   */
  queueWork?: 'thread' | 'vcpu';
}

/** The UARTs a config's guest sees. */
export function serialPortsOf(config: Pick<VmConfig, 'devices'>): SerialPort[] {
  return config.devices?.serial ?? ['com1', 'com2'];
}

/** The topology a config asks for (its vcpus alone: one LLC of that many cores), checked. Bare-metal
 * guests take APIC ids past the xAPIC range (they read theirs from CPUID 0xB); Linux guests do not. */
export function resolveTopology(c: VmConfig): Topology {
  if (!c.topology && (!Number.isInteger(c.vcpus) || c.vcpus! < 1)) throw new VmmConfigError(`vcpus must be a positive integer, got ${c.vcpus}`);
  const t = c.topology ?? flatTopology(c.vcpus!);
  const problems = validateTopology(t, c.guest.kind === 'bare' ? MAX_X2APIC_ID : MAX_XAPIC_ID);
  const what = c.topology ? 'topology' : 'vcpus';
  if (problems.length > 0) throw new VmmConfigError(problems.map((p) => `${what}${p.path ? `.${p.path}` : ''}: ${p.message}`).join('; '));
  const n = vcpuCount(t);
  if (c.vcpus !== undefined && c.vcpus !== n) {
    throw new VmmConfigError(`vcpus is ${c.vcpus} but topology ${formatTopology(t)} has ${n} vCPUs`);
  }
  return t;
}

/** Watchpoints that fit no slot or that the chosen mechanism cannot implement, before any work. */
export function checkWatchpoints(c: VmConfig): void {
  assignSlots(c.watchpoints ?? []);
  if (c.watchMechanism !== 'writetrap') return;
  const rw = c.watchpoints?.find((w) => w.on !== 'write');
  if (rw) throw new VmmConfigError(`watchpoint '${rw.name}': on: ${rw.on} needs the debug registers; the writetrap mechanism sees writes only`);
}

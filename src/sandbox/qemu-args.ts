// QEMU's argv and the guest kernel's command line for the sandbox VM: pure functions, so
// the exact flags are pinned by unit tests.
import { UserError } from '../errors.ts';

export const DEFAULT_MEM_MB = 6144;

export interface QemuArgsOptions {
  kernel: string;
  initrd: string;
  cpus: number;
  memMb: number;
  /** Kernel command line, from kernelCmdline(). */
  append: string;
  /** `passthrough` needs root on the host; `none` keeps the caller's ownership otherwise. */
  securityModel: 'passthrough' | 'none';
  /** Firmware directories (`-L`) of a QEMU that does not live in the system's paths. */
  firmware?: string[];
  /** File that receives the sandbox kernel's own console (ttyS1): its warnings, for stall reports. */
  kernelLog: string;
  /** QMP socket, read when the VM stalls (see stall-report.ts); none when its path is too long. */
  qmpSocket?: string;
}

export function qemuArgs(o: QemuArgsOptions): string[] {
  return [
    ...(o.firmware ?? []).flatMap((dir) => ['-L', dir]),
    // TCG with -cpu max emulates AMD SVM with nested paging, so kvm-amd loads in the guest.
    '-accel',
    'tcg,thread=multi',
    // Names QEMU's threads ("CPU 0/TCG"): a stall report tells a spinning vCPU from an idle one.
    '-name',
    'schedvm-sandbox,debug-threads=on',
    '-cpu',
    'max',
    '-smp',
    String(o.cpus),
    '-m',
    String(o.memMb),
    // ttyS0 carries the init's markers and the command's output on our stdio; ttyS1 the
    // kernel's messages into a file; our stdin is /dev/null. No display, no HMP monitor.
    '-display',
    'none',
    '-monitor',
    'none',
    '-serial',
    'stdio',
    '-serial',
    `file:${o.kernelLog}`,
    ...(o.qmpSocket ? ['-qmp', `unix:${o.qmpSocket},server=on,wait=off`] : []),
    '-no-reboot',
    // No network card: the guest needs none, and its option ROM costs boot time.
    '-nic',
    'none',
    '-kernel',
    o.kernel,
    '-initrd',
    o.initrd,
    '-append',
    o.append,
    // The host root spans several filesystems: remap inode numbers so they cannot collide.
    '-virtfs',
    `local,path=/,mount_tag=host,security_model=${o.securityModel},id=host,multidevs=remap`,
  ];
}

export interface KernelCmdlineOptions {
  jobDir: string;
  nonce: string;
  /** Ask the init to copy /proc/kallsyms into the job dir (no cached copy yet). */
  kallsyms?: boolean;
  /** Our stdout's size when it is a terminal. */
  terminal?: { cols: number; rows: number };
}

/**
 * The kernel's console is ttyS1 (a file on the host), never the command's output; warnings
 * and worse reach it (soft lockups, RCU stalls, hung tasks: what a stall report needs). A
 * panic ends QEMU at once (with -no-reboot). nokaslr keeps kernel text where the cached
 * kallsyms copy says it is. Speculation mitigations only slow emulated syscalls and VM exits
 * in a throwaway VM that runs nothing but the caller's own command.
 *
 * highres=off nohz=off: a periodic LAPIC timer. QEMU before 10.2 sets a vCPU's interrupt
 * request without atomics in two threads at once (the APIC timer from the main loop, VMRUN's
 * virtual-interrupt request from the vCPU thread, which a nested guest's boot exercises all the
 * time): the timer's request can be lost. With a one-shot timer nothing re-arms it and the VM
 * waits forever (a stall: no heartbeat); a periodic timer raises the request again on its
 * next tick. See README, troubleshooting.
 */
export const BASE_CMDLINE = 'console=ttyS1 loglevel=5 panic=-1 nokaslr highres=off nohz=off mitigations=off';

export function kernelCmdline(o: KernelCmdlineOptions): string {
  // The kernel splits its command line on spaces and has no escapes for init's variables.
  if (!/^[\w./+@-]+$/.test(o.jobDir)) {
    throw new UserError(`the sandbox's temp dir '${o.jobDir}' has characters the guest kernel command line cannot carry; point TMPDIR at a plain path`);
  }
  const words = [BASE_CMDLINE, `schedvm_job=${o.jobDir}`, `schedvm_nonce=${o.nonce}`, `schedvm_kallsyms=${o.kallsyms ? 1 : 0}`];
  if (o.terminal) words.push('schedvm_tty=1', `schedvm_cols=${o.terminal.cols}`, `schedvm_rows=${o.terminal.rows}`);
  else words.push('schedvm_tty=0');
  return words.join(' ');
}

/** SCHEDVM_SANDBOX_MEM_MB: guest RAM; TCG only touches what the guest uses. */
export function sandboxMemMb(env: NodeJS.ProcessEnv = process.env): number {
  const value = env.SCHEDVM_SANDBOX_MEM_MB;
  if (value === undefined || value === '') return DEFAULT_MEM_MB;
  const mb = Number(value);
  if (!/^\d+$/.test(value) || mb < 256) {
    throw new UserError(`SCHEDVM_SANDBOX_MEM_MB='${value}' must be a whole number of MiB, at least 256`);
  }
  return mb;
}

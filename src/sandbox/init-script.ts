// The sandbox VM's /init: a busybox shell script. It is the same for every run (so the
// initramfs can be cached); what varies per run reaches it as environment variables,
// which the kernel makes of unknown `name=value` words on its command line:
//   schedvm_job    host directory holding job.sh (the command, its cwd and env)
//   schedvm_nonce  per-run marker prefix, so command output cannot fake a marker
//   schedvm_tty    1 when our stdout is a terminal: the command then writes to the console
//   schedvm_cols, schedvm_rows  that terminal's size
//   schedvm_kallsyms  1: copy /proc/kallsyms into the job dir (for stall reports' symbols)

/** Bump when the script's behaviour changes: it is part of the initramfs cache key. */
export const INIT_SCRIPT_VERSION = 3;

/** Busybox applets the script calls, installed as /bin symlinks. */
export const INIT_APPLETS = ['sh', 'mount', 'insmod', 'mkdir', 'ip', 'chmod', 'stty', 'env', 'chroot', 'cat', 'sync', 'poweroff', 'sleep', 'mv'];

/** Lines the init prints, `SCHEDVM-<nonce> <word> [status]`, parsed by console-filter.ts. */
export const MARKER_PREFIX = 'SCHEDVM-';
/** Seconds between the init's `alive` markers while the command runs. */
export const HEARTBEAT_S = 15;

/**
 * KVM's counters (debugfs) that each heartbeat carries, `name=value`, then `load=` and the
 * sandbox's loadavg: a stall report shows what KVM was doing up to the last beat.
 */
export const HEARTBEAT_COUNTERS = ['exits', 'irq_exits', 'halt_exits', 'io_exits', 'mmio_exits', 'signal_exits', 'irq_window_exits', 'nmi_window_exits'];

export interface InitScriptOptions {
  /** Module file names under /lib/modules in the initramfs, in load order. */
  modules: string[];
  /** Mount options of the 9p share of the host root. */
  ninepOptions: string;
}

export function initScript({ modules, ninepOptions }: InitScriptOptions): string {
  const insmods = modules.map((m) => `insmod /lib/modules/${m} || fail 'insmod ${m}'`);
  return `#!/bin/busybox sh
# schedvm sandbox init v${INIT_SCRIPT_VERSION}
/bin/busybox mount -t devtmpfs dev /dev
# ttyS0 is ours (markers, the command); the kernel's console is ttyS1 (see qemu-args.ts).
exec </dev/ttyS0 >/dev/ttyS0 2>&1
export PATH=/bin
marker() { echo "${MARKER_PREFIX}$schedvm_nonce $*"; }
fail() { echo "schedvm sandbox init: $* failed"; marker failed; poweroff -f; }

mkdir -p /proc /dbg
mount -t proc proc /proc
mount -t debugfs debugfs /dbg
${insmods.join('\n')}
[ -c /dev/kvm ] || fail 'creating /dev/kvm'
# No udev here: let a non-root command open it too.
chmod 666 /dev/kvm

mount -t 9p -o ${ninepOptions} host /host || fail 'mounting the host root over 9p'
mkdir -p /dev/pts /dev/shm
mount --bind /dev /host/dev || fail 'binding /dev'
mount -t devpts -o newinstance,ptmxmode=0666 devpts /host/dev/pts || fail 'mounting devpts'
mount -t tmpfs -o mode=1777 shm /host/dev/shm || fail 'mounting /dev/shm'
mount -t proc proc /host/proc || fail 'mounting proc'
mount -t sysfs sysfs /host/sys || fail 'mounting sysfs'
ip link set lo up
# Warn of a task blocked for 30 s (default 120: past the host's stall limit).
t=/proc/sys/kernel/hung_task_timeout_secs; [ -e $t ] && echo 30 > $t
[ "$schedvm_kallsyms" = 1 ] && cat /proc/kallsyms > "/host$schedvm_job/kallsyms.tmp" && mv "/host$schedvm_job/kallsyms.tmp" "/host$schedvm_job/kallsyms"

[ "$schedvm_tty" = 1 ] && stty cols "$schedvm_cols" rows "$schedvm_rows"
set -o pipefail
marker start
# A heartbeat the host watches: it stops only when this VM has stopped making progress.
counters() {
  for c in ${HEARTBEAT_COUNTERS.join(' ')}; do echo -n "$c=$(cat /dbg/kvm/$c 2>/dev/null) "; done
  echo -n "load=$(cat /proc/loadavg)"
}
( while :; do sleep ${HEARTBEAT_S}; marker alive $(counters); done ) &
if [ "$schedvm_tty" = 1 ]; then
  env -i /bin/chroot /host /bin/sh "$schedvm_job/job.sh" </dev/null
else
  # Through a pipe, so the command sees no terminal when our caller has none.
  env -i /bin/chroot /host /bin/sh "$schedvm_job/job.sh" </dev/null 2>&1 | cat
fi
status=$?
# Files the command wrote may still sit in the guest's page cache.
sync
marker exit $status
poweroff -f
`;
}

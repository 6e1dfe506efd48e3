// The scenario file format: one zod schema, defaults applied here and nowhere else.
import { z } from 'zod';
import { guestNames } from '../../fixtures/guests/build.ts';
import { BASELINE_GATES, workloadGatesSchema, workloadSchema } from './workload-schema.ts';
import { flatTopology, formatTopology, highestApicId, MAX_X2APIC_ID, MAX_XAPIC_ID, validateTopology, type Topology } from '../../vmm/topology.ts';
import { parseTopologyShorthand } from './topology-shorthand.ts';
import { checkSteps, stepsSchema } from './steps-schema.ts';
import { monitorGatesSchema, monitorSchema } from './monitor-schema.ts';
import { EXIT_ACTION_NAMES } from '../../vmm/exit-actions.ts';
import { kernelLabel } from '../../fixtures/kernels/resolve.ts';
import { parseDebianSpec } from '../../fixtures/kernels/debian-spec.ts';

/** enum scx_exit_kind, lower-cased without SCX_EXIT_; `none`: the scheduler never exited. */
export const SCHEDULER_EXIT_KINDS = ['none', 'done', 'unreg', 'unreg_bpf', 'unreg_kern', 'sysrq', 'parent', 'error', 'error_bpf', 'error_stall'] as const;
export type SchedulerExitKind = (typeof SCHEDULER_EXIT_KINDS)[number];

const u64 = z.union([z.int().min(0), z.string().regex(/^(0x[0-9a-fA-F]{1,16}|[0-9]{1,20})$/, 'expected an integer or a 0x-prefixed hex string')]).transform((v, ctx) => {
  const n = BigInt(v);
  if (n >= 1n << 64n) ctx.addIssue({ code: 'custom', message: 'does not fit in 64 bits' });
  return n;
});

export const watchpointSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[A-Za-z_][\w.-]*$/, 'expected a name like exit_kind or my-watch')
      .describe('Key of this watchpoint in the result.'),
    address: u64.optional().describe('Guest address to watch (bare-metal guests: guest-physical). Hex as a quoted string above 2^53. Either address or symbol.'),
    symbol: z
      .string()
      .regex(/^[A-Za-z_][\w.]*$/, 'expected a kernel symbol name like system_state')
      .optional()
      .describe("Linux guests: a kernel variable from the guest's /proc/kallsyms (KASLR-proof), armed once /init has reported it. Either address or symbol."),
    offset: z.int().min(0).optional().describe('Bytes past symbol (default 0).'),
    len: z.literal([1, 2, 4, 8], 'expected 1, 2, 4 or 8 (bytes)').default(4).describe('Bytes watched; the address must be aligned to it.'),
    on: z.enum(['write', 'readwrite']).default('write').describe('Trigger on writes, or on reads and writes.'),
    kind: z.enum(['exit_kind', 'user']).default('user').describe('exit_kind (slot 0) latches only when the u32 written is >= 1024 (SCX_EXIT_ERROR); user slots latch on any access.'),
    freeze: z.boolean().default(false).describe('On the first latch, freeze every vCPU and snapshot its registers; the guest then resumes.'),
  })
  // zod runs refinements over fields that already failed: check only what parsed.
  .refine((w) => typeof w.address !== 'bigint' || typeof w.len !== 'number' || w.address % BigInt(w.len) === 0n, {
    error: (i) => `address must be aligned to len (${(i.input as { len: number }).len})`,
    path: ['address'],
  })
  .refine((w) => (w.address === undefined) !== (w.symbol === undefined), { error: 'give exactly one of address or symbol' })
  .refine((w) => w.offset === undefined || w.symbol !== undefined, { error: 'offset goes with symbol', path: ['offset'] })
  .refine((w) => w.symbol === undefined || w.on === 'write', { error: 'a symbol watchpoint watches writes (on: write)', path: ['on'] });

const kernelSpecSchema = z.union([
  z
    .string()
    .min(1)
    .superRefine((spec, ctx) => {
      try {
        parseDebianSpec(spec);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
      }
    }),
  z.strictObject({
    build: z.string().min(1).describe('A kernel build tree (the directory make ran in, or its O=), relative to this file: arch/x86/boot/bzImage, .config, vmlinux.'),
  }),
]);

const schedulerSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[\w.-]+$/, 'expected a scheduler name like scx_simple')
      .optional()
      .describe("A scheduler built from the kernel's own tools/sched_ext (scx_simple, scx_central, scx_flatcg, ...) or ours (scx_fault). Either name or binary."),
    binary: z.string().min(1).optional().describe('Your own scheduler loader (path relative to the scenario file), packed with its shared libraries. Either name or binary.'),
    args: z
      .array(z.string())
      .default([])
      .describe('Arguments for the loader (scx_fault: --error-after N, --exit-after N, --stall, --clean; behaviour faults --starve PREFIX:MS, --one-cpu, --long-slice PREFIX:N).'),
    ops: z.string().min(1).optional().describe('What /sys/kernel/sched_ext/root/ops says once it is enabled (default: the name without scx_).'),
    enable_timeout_s: z.number().positive().max(3600).default(30).describe('Give up (and report its output) if the scheduler is not enabled within this long.'),
    exit_wait_s: z.number().min(0).max(3600).optional().describe('After the workload, wait up to this long for the scheduler to exit by itself (a fault) before stopping it.'),
  })
  .refine((s) => (s.name === undefined) !== (s.binary === undefined), { error: 'give exactly one of name (a built scheduler) or binary (your own)' });

const topologyObject = z.strictObject({
  numa_nodes: z.int().min(1).describe('NUMA nodes (one package each).'),
  llcs: z.int().min(1).describe('Last-level caches in the whole VM; a multiple of numa_nodes.'),
  cores_per_llc: z.int().min(1).describe('Cores sharing each LLC.'),
  threads_per_core: z.int().min(1).describe('SMT threads per core.'),
  distances: z.array(z.array(z.int())).optional().describe('numa_nodes x numa_nodes SLIT matrix: 10 on the diagonal, 11..254 elsewhere.'),
});

const topologySchema = z.union([z.string().describe('a shorthand <N>n<L>l<C>c<T>t such as 2n4l2c2t'), topologyObject]).transform((v, ctx): Topology => {
  let t: Topology;
  try {
    t = typeof v === 'string' ? parseTopologyShorthand(v) : v;
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
  // Linux's lower APIC-id limit is checked with the whole scenario, which knows the guest.
  for (const p of validateTopology(t, MAX_X2APIC_ID)) {
    ctx.addIssue({ code: 'custom', path: typeof v === 'string' || !p.path ? [] : p.path.split('.'), message: p.message });
  }
  return t;
});

const devicesSchema = z.strictObject({
  serial: z
    .array(z.enum(['com1', 'com2']))
    .refine((ports) => new Set(ports).size === ports.length, 'lists a port twice')
    .default(['com1', 'com2'])
    .describe('8250 UARTs the guest has: com1 (0x3f8, IRQ 4), com2 (0x2f8, IRQ 3).'),
  console: z.enum(['serial', 'virtio']).default('serial').describe('The Linux console: `serial` (ttyS0 on com1) or `virtio` (hvc0 on a virtio-console, in the result as console.hvc0).'),
  blk: z
    .array(
      z.strictObject({
        path: z.string().min(1).describe('Disk image (a regular file), relative to the scenario file.'),
        readonly: z.boolean().default(false).describe('The guest cannot write the image (its writes fail).'),
      }),
    )
    .max(8)
    .default([])
    .describe('virtio-blk disks over image files: /dev/vda, /dev/vdb, ... in the guest.'),
  net: z
    .strictObject({
      backend: z
        .enum(['peer', 'tap'])
        .default('peer')
        .describe('`peer`: an in-process host at 10.0.2.2 that answers ARP and ping (no privileges); `tap`: a host TAP device (needs CAP_NET_ADMIN, or a TAP you own named in `tap.name`).'),
      tap: z
        .strictObject({
          name: z
            .string()
            .regex(/^[^\s/]{1,15}$/, 'must be 1..15 characters, without spaces or /')
            .default('schedvm%d')
            .describe(
              'Host interface name; `%d` picks a free number. A TAP schedvm creates is brought up and vanishes with the VM; an existing one (ip tuntap add NAME mode tap user $USER) is used as it is.',
            ),
          host_address: z
            .string()
            .regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, 'must be an IPv4 address with a prefix length, like 10.0.2.2/24')
            .optional()
            .describe('An address the host takes on the TAP (CIDR), so the guest can reach the host at it.'),
        })
        .optional()
        .describe('TAP settings, with backend: tap.'),
    })
    .refine((n) => n.backend === 'tap' || n.tap === undefined, { path: ['tap'], message: 'is only for backend: tap' })
    .optional()
    .describe('A virtio-net card (eth0 in the guest, MAC 52:54:00:12:34:56).'),
  queue_work: z
    .enum(['thread', 'vcpu'])
    .default('thread')
    .describe(
      'Where the virtio queues are worked: `thread`, a device thread woken through ioeventfds, so the notifying vCPU goes straight back to the guest; `vcpu`, on the vCPU thread that took the notify (what a KVM without KVM_CAP_IOEVENTFD gets anyway; for comparing).',
    ),
});

export const scenarioSchema = z
  .strictObject({
    extends: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Another scenario file this one builds on (relative to this file). Mappings merge field by field; values and lists here replace the base's; topology, topologies and vcpus replace each other, as do kernel and kernels (a gauntlet over a one-VM scenario).",
      ),
    name: z.string().min(1).describe('Scenario name, shown in reports.'),
    guest: z
      .string()
      .refine((g) => guestNames().includes(g), { error: () => `must be one of: ${guestNames().join(', ')}` })
      .optional()
      .describe('Bare-metal guest from src/fixtures/guests (a .S file name without extension). Either guest or kernel.'),
    kernel: kernelSpecSchema
      .optional()
      .describe(
        "Linux kernel to boot: `debian-sched-ext` (the newest Debian sid cloud kernel with sched_ext, fetched and cached), `debian-sched-ext@<suite>` (that suite's newest: sid, trixie-backports), `debian-sched-ext@<version>` (7.2.13, 7.2.13+deb14 or a full release), `host` (newest /boot/vmlinuz-*), a bzImage path, or { build: <dir> } (your kernel build tree). Either guest, kernel or kernels.",
      ),
    kernels: z
      .array(kernelSpecSchema)
      .min(1)
      .optional()
      .describe(
        'Gauntlet: the same scenario on each kernel (each as kernel takes it), one VM and one test each, named by the kernel (and the topology, with topologies: <kernel>/<topology>). Instead of kernel.',
      ),
    cmdline: z.string().default('').describe('Extra kernel command-line arguments (Linux guests).'),
    run: z.string().optional().describe('Shell commands the Linux guest runs after its report, before powering off.'),
    vcpus: z.int().min(1).max(256).optional().describe('Number of vCPUs (default 1, or what topology gives): one package of up to 256; more need a topology of several NUMA nodes.'),
    topology: topologySchema.optional().describe('CPU topology: {numa_nodes, llcs, cores_per_llc, threads_per_core, distances?} or a shorthand like 2n4l2c2t.'),
    topologies: z.array(topologySchema).min(1).optional().describe('Gauntlet: the same scenario on each topology, one VM and one test each, named by its shorthand. Instead of topology.'),
    memory_mb: z.int().min(8).max(65536).optional().describe('Guest RAM in MiB (default 64 for bare guests, 512 for Linux).'),
    timeout_s: z.number().positive().max(86_400).default(30).describe('The VM is stopped (exit action Timeout) after this many seconds.'),
    boot_timeout_s: z
      .number()
      .positive()
      .max(86_400)
      .default(300)
      .describe(
        'Linux guests: the VM is stopped (exit action Timeout, with bootStalled saying so) if /init has not started after this many seconds. A boot takes about a second on hardware KVM and up to a few minutes in the sandbox; a stalled one then fails early instead of using all of timeout_s.',
      ),
    guest_arg: z.int().min(0).max(0xffff_ffff).optional().describe('Value passed to the guest in rdx (port-flood: number of port writes).'),
    watchpoints: z
      .array(watchpointSchema)
      .max(4, 'at most 4 watchpoints (the x86 debug registers DR0..DR3)')
      .default([])
      .superRefine((ws, ctx) => {
        const ek = ws.flatMap((w, i) => (w.kind === 'exit_kind' ? [i] : []));
        if (ek.length > 1) ctx.addIssue({ code: 'custom', path: [ek[1]!, 'kind'], message: 'only one watchpoint may have kind exit_kind (it owns slot 0)' });
        if (ws.length - ek.length > 3) ctx.addIssue({ code: 'custom', path: [3], message: 'at most 3 user watchpoints (slots 1..3)' });
        const seen = new Set<string>();
        ws.forEach((w, i) => {
          if (seen.has(w.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `the name '${w.name}' is used twice` });
          seen.add(w.name);
        });
      })
      .describe('Hardware watchpoints; their hits are latched into the result.'),
    scheduler: schedulerSchema.optional().describe('A sched_ext scheduler the guest runs: started by /init, waited for until enabled, stopped after the workload (Linux guests).'),
    workload: workloadSchema
      .optional()
      .describe("What runs while the scheduler is enabled, or after the guest's report without one (the kernel's default scheduler). Default with a scheduler: one spin thread per vCPU for 5 s."),
    steps: stepsSchema.optional(),
    monitor: monitorSchema.optional(),
    devices: devicesSchema.optional().describe('Devices besides RAM and vCPUs: UARTs, and virtio-mmio console, disks and network (Linux guests).'),
    expect: z
      .strictObject({
        exit_action: z.enum(EXIT_ACTION_NAMES).default('Shutdown').describe('Exit action that counts as a pass for `schedvm run`.'),
        scheduler_exit: z
          .enum(SCHEDULER_EXIT_KINDS)
          .optional()
          .describe("The scheduler's exit kind that counts as a pass: the schedvm environment fails the test file otherwise (the CI gate), as does `schedvm run`."),
        workload: workloadGatesSchema.optional(),
        monitor: monitorGatesSchema.optional(),
      })
      .default({ exit_action: 'Shutdown' })
      .describe('What a passing run looks like.'),
  })
  .superRefine((s, ctx) => {
    if ((s.guest === undefined) === !isLinux(s)) {
      ctx.addIssue({ code: 'custom', path: [s.guest === undefined ? 'kernel' : 'guest'], message: 'give exactly one of guest (bare-metal) or kernel (Linux)' });
    }
    if (s.kernel !== undefined && s.kernels) {
      ctx.addIssue({ code: 'custom', path: ['kernels'], message: 'give kernel (one VM) or kernels (a gauntlet), not both' });
    }
    s.kernels?.forEach((k, i) => {
      const first = s.kernels!.findIndex((u) => kernelLabel(u) === kernelLabel(k));
      if (first !== i) ctx.addIssue({ code: 'custom', path: ['kernels', i], message: `${kernelLabel(k)} is listed twice (also item ${first})` });
    });
    if (s.topologies && s.topology) {
      ctx.addIssue({ code: 'custom', path: ['topologies'], message: 'give topology (one VM) or topologies (a gauntlet), not both' });
    }
    if (s.topologies && s.vcpus !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['vcpus'], message: 'each of topologies sets the vCPU count (leave vcpus out)' });
    }
    s.topologies?.forEach((t, i) => {
      const first = s.topologies!.findIndex((u) => formatTopology(u) === formatTopology(t));
      if (first !== i) ctx.addIssue({ code: 'custom', path: ['topologies', i], message: `${formatTopology(t)} is listed twice (also item ${first})` });
    });
    if (isLinux(s)) {
      const shapes: Array<[Topology, PropertyKey[]]> = s.topologies
        ? s.topologies.map((t, i) => [t, ['topologies', i]])
        : [[s.topology ?? flatTopology(s.vcpus ?? 1), [s.topology ? 'topology' : 'vcpus']]];
      for (const [t, path] of shapes) {
        const top = highestApicId(t);
        if (top > MAX_XAPIC_ID)
          ctx.addIssue({
            code: 'custom',
            path,
            message: `highest APIC id would be ${top}; a Linux guest starts CPUs with APIC ids up to ${MAX_XAPIC_ID} only (KVM's in-kernel IOAPIC sends interrupts to 8-bit ids): ${s.topology || s.topologies ? 'use fewer cores per LLC or LLCs per node' : `give at most ${MAX_XAPIC_ID + 1} vcpus`} (bare-metal guests take ids up to ${MAX_X2APIC_ID})`,
          });
      }
    }
    if (s.topology && s.vcpus !== undefined && s.vcpus !== vcpusOf(s.topology)) {
      ctx.addIssue({ code: 'custom', path: ['vcpus'], message: `is ${s.vcpus} but the topology has ${vcpusOf(s.topology)} vCPUs (leave vcpus out)` });
    }
    if (s.guest !== undefined && s.memory_mb !== undefined && s.memory_mb > 3072) {
      ctx.addIssue({ code: 'custom', path: ['memory_mb'], message: 'bare-metal guests take at most 3072' });
    }
    if (isLinux(s) && s.memory_mb !== undefined && s.memory_mb < 128) {
      ctx.addIssue({ code: 'custom', path: ['memory_mb'], message: 'a Linux guest needs at least 128' });
    }
    s.watchpoints.forEach((w, i) => {
      if (w.symbol !== undefined && s.guest !== undefined)
        ctx.addIssue({ code: 'custom', path: ['watchpoints', i, 'symbol'], message: 'kernel symbols need a Linux guest (kernel:); bare-metal guests take address' });
    });
    if (s.scheduler !== undefined && s.watchpoints.some((w) => w.kind === 'exit_kind')) {
      ctx.addIssue({ code: 'custom', path: ['watchpoints'], message: 'with a scheduler, slot 0 (exit_kind) watches its exit kind: declare user watchpoints only' });
    }
    if (s.guest !== undefined && s.scheduler !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['scheduler'], message: 'only Linux guests (kernel:) run a scheduler' });
    }
    if (s.scheduler === undefined && s.workload?.shell !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['workload', 'shell'], message: 'a workload shell runs under a scheduler: add scheduler, or put the commands in run' });
    }
    if (s.guest !== undefined && s.workload !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['workload'], message: 'only Linux guests (kernel:) run a workload' });
    }
    // A gauntlet's groups must fit its smallest topology.
    const cpus = Math.min(...(s.topologies ?? [s.topology ?? flatTopology(s.vcpus ?? 1)]).map(vcpusOf));
    s.workload?.groups?.forEach((g, i) => {
      const bad = g.cpus?.find((c) => c >= cpus);
      if (bad !== undefined) ctx.addIssue({ code: 'custom', path: ['workload', 'groups', i, 'cpus'], message: `CPU ${bad} is not in this VM (its CPUs are 0..${cpus - 1})` });
      const badSet = g.cgroup?.cpuset?.find((c) => c >= cpus);
      if (badSet !== undefined) ctx.addIssue({ code: 'custom', path: ['workload', 'groups', i, 'cgroup', 'cpuset'], message: `CPU ${badSet} is not in this VM (its CPUs are 0..${cpus - 1})` });
    });
    if (s.expect.workload !== undefined && (s.workload === undefined ? s.scheduler === undefined : s.workload.shell !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['expect', 'workload'], message: 'gates measure the workload program: add workload.groups (a workload shell is not measured)' });
    }
    if (s.workload?.baseline !== undefined && s.scheduler === undefined) {
      ctx.addIssue({ code: 'custom', path: ['workload', 'baseline'], message: "compares the scenario's scheduler with the kernel's default: add scheduler, or remove baseline" });
    }
    if (s.workload?.baseline === undefined) {
      const relative = (at: Array<string | number>, gates: object | undefined) => {
        for (const g of BASELINE_GATES) if (gates && g in gates) ctx.addIssue({ code: 'custom', path: [...at, g], message: 'compares with a baseline run: add workload.baseline: default' });
      };
      relative(['expect', 'workload'], s.expect.workload);
      s.workload?.groups?.forEach((g, i) => {
        relative(['workload', 'groups', i, 'expect'], g.expect);
      });
    }
    checkSteps(s, cpus, ctx);
    if (s.monitor && s.guest !== undefined) ctx.addIssue({ code: 'custom', path: ['monitor'], message: "reads a Linux kernel's runqueues: needs a Linux guest (kernel:)" });
    if (s.expect.monitor && !s.monitor) ctx.addIssue({ code: 'custom', path: ['expect', 'monitor'], message: 'gates the monitor samples: add monitor: {}' });
    if (s.scheduler === undefined && s.expect.scheduler_exit !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['expect', 'scheduler_exit'], message: 'needs a scheduler' });
    }
    if (s.guest !== undefined && s.devices) {
      const virtio = s.devices.console === 'virtio' ? 'console' : s.devices.blk.length > 0 ? 'blk' : s.devices.net ? 'net' : undefined;
      if (virtio) ctx.addIssue({ code: 'custom', path: ['devices', virtio], message: 'virtio devices need a Linux guest (kernel:): bare-metal guests have no ACPI to find them' });
    }
    if (s.devices?.console === 'serial' && !s.devices.serial.includes('com1') && isLinux(s)) {
      ctx.addIssue({ code: 'custom', path: ['devices', 'console'], message: 'the serial console is ttyS0 on com1: add com1 to devices.serial, or use console: virtio' });
    }
    if (s.guest !== undefined && (s.run !== undefined || s.cmdline !== '')) {
      ctx.addIssue({ code: 'custom', path: [s.run !== undefined ? 'run' : 'cmdline'], message: 'only Linux guests (kernel:) take run and cmdline' });
    }
  })
  .transform((s) => ({
    ...s,
    vcpus: s.topology ? vcpusOf(s.topology) : s.topologies ? vcpusOf(s.topologies[0]!) : (s.vcpus ?? 1),
    memory_mb: s.memory_mb ?? (isLinux(s) ? 512 : 64),
  }))
  .describe('A schedvm scenario: one VM and what is expected of it.');

/** A Linux scenario: one kernel or a gauntlet of kernels. */
function isLinux(s: { kernel?: unknown; kernels?: unknown }): boolean {
  return s.kernel !== undefined || s.kernels !== undefined;
}

export function vcpusOf(t: Topology): number {
  return t.llcs * t.cores_per_llc * t.threads_per_core;
}

export type Scenario = z.output<typeof scenarioSchema>;
export type ScenarioInput = z.input<typeof scenarioSchema>;

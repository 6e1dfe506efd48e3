// Runs a command inside the sandbox VM (QEMU TCG emulating an AMD CPU with SVM, a Debian
// kernel with kvm-amd loaded, the host root shared over 9p) and returns its exit status.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { UserError } from '../errors.ts';
import { cacheDir, writeFileDurably } from '../fixtures/cache.ts';
import { ConsoleFilter } from './console-filter.ts';
import { findSandboxHost, INSTALL_HINT } from './host-tools.ts';
import { sandboxInitramfs } from './initramfs.ts';
import { bootableKernel, dropOwnUnpackings } from './kernel-image.ts';
import { createJobDir, type Job, removeJobDir, sweepStaleJobDirs } from './job.ts';
import { kernelCmdline, qemuArgs, sandboxMemMb } from './qemu-args.ts';
import { sandboxQemu } from './qemu-fetch.ts';
import { forwardSignals, signalExitStatus, type StopSignal } from './signals.ts';
import { HEARTBEAT_S } from './init-script.ts';
import { captureStall } from './stall-report.ts';

export interface VmRunOptions {
  cwd: string;
  /** The command's whole environment (see sandboxEnv). */
  env: Record<string, string>;
  /** Where the command's output goes (its stdout and stderr share the console). */
  stdout?: NodeJS.WriteStream;
  /** Print timings and QEMU's own messages to stderr. */
  verbose?: boolean;
}

type Log = ((msg: string) => void) | undefined;

export async function runInSandboxVm(argv: string[], opts: VmRunOptions): Promise<number> {
  const stdout = opts.stdout ?? process.stdout;
  const log: Log = opts.verbose ? (msg) => process.stderr.write(`schedvm sandbox: ${msg}\n`) : undefined;
  const t0 = performance.now();
  const host = findSandboxHost();
  const qemu = await sandboxQemu(host.qemu, log);
  log?.(`QEMU ${qemu.path} (${qemu.origin})`);
  const memMb = sandboxMemMb();
  dropOwnUnpackings();
  const kernel = await bootableKernel(host.kernel);
  const initramfs = sandboxInitramfs(host);
  log?.(`kernel ${host.kernel.version}: ${kernel.path}${kernel.pvh ? ' (PVH)' : ` (bzImage: ${kernel.note})`}`);
  log?.(`initramfs ${initramfs.built ? 'built' : 'cached'}: ${initramfs.path}; ready ${ms(t0)} after start`);

  sweepStaleJobDirs();
  const job: Job = { argv, cwd: opts.cwd, env: opts.env, user: guestUser(host.setpriv) };
  const jobDir = createJobDir(job);
  try {
    const nonce = randomBytes(8).toString('hex');
    // The sandbox kernel's symbols for stall reports: copied by the init once per kernel and
    // module set (nokaslr keeps them valid for every later boot).
    const kallsymsCache = join(cacheDir('sandbox'), `kallsyms-${basename(kernel.path)}-${basename(initramfs.path, '.cpio')}`);
    const haveKallsyms = existsSync(kallsymsCache);
    const kernelLog = join(jobDir, 'kernel.log');
    const qmpSocket = join(jobDir, 'qmp.sock');
    const append = kernelCmdline({
      jobDir,
      nonce,
      kallsyms: !haveKallsyms,
      terminal: stdout.isTTY ? { cols: stdout.columns, rows: stdout.rows } : undefined,
    });
    // One vCPU by default: with several, QEMU's multi-threaded TCG can leave another vCPU
    // running a stale translation of guest code the guest just live-patched (Linux's
    // text_poke_bp int3), and a nested Linux oopses on "int3" as soon as static keys flip
    // (loading a sched_ext scheduler does). One vCPU was also faster here (70 s vs 108 s).
    const cpus = sandboxCpus();
    const args = qemuArgs({
      kernel: kernel.path,
      initrd: initramfs.path,
      cpus,
      memMb,
      append,
      firmware: qemu.firmware,
      securityModel: process.getuid?.() === 0 ? 'passthrough' : 'none',
      kernelLog,
      // sun_path holds 108 bytes: a long TMPDIR goes without stall registers.
      ...(Buffer.byteLength(qmpSocket) < 100 ? { qmpSocket } : {}),
    });
    log?.(`${cpus} vCPUs, ${memMb} MiB, job dir ${jobDir}`);
    // setpriv makes the kernel SIGKILL QEMU when we die, even by SIGKILL.
    const [file, fileArgs] = host.setpriv ? [host.setpriv, ['--pdeathsig', 'KILL', '--', qemu.path, ...args]] : [qemu.path, args];
    const onStall: StallHandler = async (pid, silentMs, lastHeartbeat, heartbeatSince) => {
      const report = await captureStall({
        qmpSocket,
        qemuPid: pid,
        kernelLog,
        heartbeatSince,
        kallsyms: haveKallsyms ? kallsymsCache : join(jobDir, 'kallsyms'),
        silentMs,
        ...(lastHeartbeat ? { lastHeartbeat } : {}),
      });
      return saveStallReport(opts.cwd, `sandbox: ${host.kernel.version}, QEMU ${qemu.path}, ${cpus} vCPUs, ${memMb} MiB\ncommand: ${argv.join(' ')}\n${report}`);
    };
    try {
      return await superviseQemu({ file, args: fileArgs, nonce, stdout, log, t0, stallMs: sandboxStallMs(), onStall, kernelLog });
    } finally {
      if (!haveKallsyms && existsSync(join(jobDir, 'kallsyms'))) writeFileDurably(kallsymsCache, readFileSync(join(jobDir, 'kallsyms')));
    }
  } finally {
    removeJobDir(jobDir);
  }
}

/** The sandbox VM stopped making progress (no heartbeat): QEMU was killed. */
export class SandboxStalledError extends UserError {
  readonly code = 'SCHEDVM_SANDBOX_STALLED';
  constructor(
    readonly silentMs: number,
    /** Where the stall report (registers, threads, kernel warnings) was written, if it was. */
    readonly reportFile?: string,
  ) {
    super(
      `the sandbox VM stopped responding: no heartbeat from its init for ${Math.round(silentMs / 1000)} s, so QEMU was killed ` +
        `(SCHEDVM_SANDBOX_STALL_S sets the limit)${reportFile ? `; what it was doing: ${reportFile}` : ''}`,
    );
    this.name = 'SandboxStalledError';
  }
}

/** Captures a stalled VM's state before QEMU is killed; resolves to the report's file. */
export type StallHandler = (
  qemuPid: number,
  silentMs: number,
  lastHeartbeat: { stats: string; agoMs: number } | undefined,
  /** Whether a heartbeat came after a performance.now() time (the capture's NMI probe). */
  heartbeatSince: (t: number) => boolean,
) => Promise<string | undefined>;

/** Writes a stall report under <cwd>/.schedvm-artifacts/sandbox-stalls and prints it to stderr (a CI log keeps it). */
function saveStallReport(cwd: string, report: string): string | undefined {
  process.stderr.write(`schedvm sandbox: STALL REPORT\n${report}\nschedvm sandbox: end of stall report\n`);
  try {
    const dir = join(cwd, '.schedvm-artifacts', 'sandbox-stalls');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}.txt`);
    writeFileSync(file, `${report}\n`);
    return file;
  } catch {
    return undefined;
  }
}

/** How long the running command's VM may go without a heartbeat: SCHEDVM_SANDBOX_STALL_S, default 90 (six missed heartbeats). */
export function sandboxStallMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SCHEDVM_SANDBOX_STALL_S;
  if (raw === undefined || raw === '') return 90_000;
  const s = Number(raw);
  if (!Number.isFinite(s) || s < 2 * HEARTBEAT_S) throw new UserError(`SCHEDVM_SANDBOX_STALL_S=${raw}: must be a number of seconds, at least ${2 * HEARTBEAT_S}`);
  return s * 1000;
}

export interface SuperviseOptions {
  /** QEMU, or setpriv running QEMU. */
  file: string;
  args: string[];
  /** The marker nonce on the kernel command line. */
  nonce: string;
  stdout: { write(data: Uint8Array): unknown };
  log?: Log;
  /** When the whole run started, for the timings. */
  t0?: number;
  /** Kill QEMU when the running command's VM sends no heartbeat for this long. */
  stallMs?: number;
  /** Runs before QEMU is killed for a stall (bounded: QEMU is killed after STALL_CAPTURE_MS regardless). */
  onStall?: StallHandler;
  /** The sandbox kernel's console file, whose tail goes into a setup failure's message. */
  kernelLog?: string;
}

const STALL_CAPTURE_MS = 45_000;

/**
 * Streams the command's output from QEMU's console and resolves to its exit status once
 * QEMU has exited; a stop signal kills QEMU and resolves to 128+signal.
 */
export function superviseQemu({ file, args, nonce, stdout, log, t0 = performance.now(), stallMs, onStall, kernelLog }: SuperviseOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const tSpawn = performance.now();
    let tStart = 0;
    let status: number | undefined;
    let failed = false;
    let stoppedBy: StopSignal | undefined;
    let stalledFor: number | undefined;
    let qemuStderr = '';
    let lastAlive = 0;
    let lastBeat: { stats: string; at: number } | undefined;
    let reportFile: string | undefined;

    // Own process group: a terminal's Ctrl-C reaches only us, and we stop QEMU ourselves.
    const qemu = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const stopSignals = forwardSignals((signal) => {
      stoppedBy ??= signal;
      log?.(`${signal}: stopping QEMU`);
      qemu.kill('SIGKILL');
    });

    const watchdog =
      stallMs === undefined
        ? undefined
        : setInterval(
            () => {
              const silent = performance.now() - lastAlive;
              if (lastAlive === 0 || status !== undefined || silent < stallMs || stalledFor !== undefined) return;
              stalledFor = silent;
              log?.(`no heartbeat for ${ms(lastAlive)}: capturing its state, then killing QEMU`);
              const kill = () => qemu.kill('SIGKILL');
              if (!onStall || qemu.pid === undefined) return kill();
              const deadline = setTimeout(kill, STALL_CAPTURE_MS);
              const beat = lastBeat && { stats: lastBeat.stats, agoMs: performance.now() - lastBeat.at };
              onStall(qemu.pid, silent, beat, (t) => lastAlive > t)
                .then(
                  (f) => (reportFile = f),
                  (err: Error) => log?.(`stall capture failed: ${err.message}`),
                )
                .finally(() => {
                  clearTimeout(deadline);
                  kill();
                });
            },
            Math.min(5000, stallMs / 4),
          );

    const filter = new ConsoleFilter(nonce);
    const handle = (events: ReturnType<ConsoleFilter['push']>) => {
      for (const e of events) {
        if (e.kind === 'output') {
          stdout.write(e.data);
          lastAlive = performance.now();
        } else if (e.kind === 'alive') {
          lastAlive = performance.now();
          lastBeat = { stats: e.stats, at: lastAlive };
        } else if (e.kind === 'start') {
          lastAlive = performance.now();
          tStart = performance.now();
          log?.(`command running ${ms(t0)} after start (QEMU boot to command ${ms(tSpawn)})`);
        } else if (e.kind === 'exit') {
          status = e.status;
          log?.(`command exited with ${e.status} after ${ms(tStart)}`);
        } else failed = true;
      }
    };
    qemu.stdout.on('data', (chunk: Buffer) => handle(filter.push(chunk)));
    qemu.stderr.on('data', (chunk: Buffer) => {
      qemuStderr += chunk.toString();
      log?.(`qemu: ${chunk.toString().trimEnd()}`);
    });

    qemu.on('error', (err: NodeJS.ErrnoException) => {
      stopSignals();
      clearInterval(watchdog);
      reject(err.code === 'ENOENT' ? new UserError(`cannot run ${file}: install it with: ${INSTALL_HINT}`) : err);
    });
    qemu.on('close', (code, signal) => {
      stopSignals();
      clearInterval(watchdog);
      handle(filter.end());
      log?.(`QEMU exited (${signal ?? code}) ${ms(t0)} after start`);
      if (stoppedBy) return resolve(signalExitStatus(stoppedBy));
      if (stalledFor !== undefined && status === undefined) return reject(new SandboxStalledError(stalledFor, reportFile));
      if (status !== undefined) return resolve(status);
      const what = failed ? 'the sandbox VM could not be set up' : `the sandbox VM stopped (QEMU ${signal ?? `exit ${code}`}) before the command finished`;
      const kernelText = kernelLog && existsSync(kernelLog) ? readFileSync(kernelLog, 'utf8') : '';
      reject(new UserError(`${what}\n${tail('QEMU', qemuStderr)}${tail('console', filter.bootLog())}${tail('sandbox kernel', kernelText)}`.trimEnd()));
    });
  });
}

/** Inside the VM the command runs as the caller's user, unless that is root already. */
function guestUser(setpriv: string | undefined): Job['user'] {
  const uid = process.getuid?.() ?? 0;
  if (uid === 0) return undefined;
  if (!setpriv) throw new UserError('the sandbox needs setpriv (util-linux) to run the command as your user');
  return { uid, gid: process.getgid?.() ?? uid, groups: process.getgroups?.() ?? [], setpriv };
}

function ms(since: number): string {
  const d = performance.now() - since;
  return d < 1000 ? `${d.toFixed(0)} ms` : `${(d / 1000).toFixed(2)} s`;
}

/** The last lines of a log, with terminal escapes removed, for an error message. */
function tail(label: string, text: string, lines = 25): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escapes are what it strips
  const clean = text.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1bc|\r/g, '').trim();
  if (!clean) return '';
  return `--- ${label} (last lines) ---\n${clean.split('\n').slice(-lines).join('\n')}\n`;
}

/** SCHEDVM_SANDBOX_CPUS, default 1 (see runInVm). */
export function sandboxCpus(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SCHEDVM_SANDBOX_CPUS;
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > availableParallelism()) {
    throw new UserError(`SCHEDVM_SANDBOX_CPUS='${raw}': expected a whole number from 1 to ${availableParallelism()}`);
  }
  return n;
}

// The command, its cwd and its environment travel to the sandbox VM as job.sh in a private
// temp dir on the shared host root (not on the kernel command line: no length or quoting
// limits, and not visible in `ps`). The VM's init runs it with `chroot /host /bin/sh`.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processAlive } from '../process-alive.ts';

const JOB_DIR_PREFIX = 'schedvm-sandbox-';

/** Variables passed from the caller's environment, besides every SCHEDVM_*. */
export const PASSED_ENV = ['PATH', 'HOME', 'CI', 'TERM', 'NODE_OPTIONS', 'GITHUB_ACTIONS', 'NO_COLOR', 'FORCE_COLOR', 'LANG', 'LC_ALL', 'TZ'];

export interface Job {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  /** Run as this user instead of the guest's root (the caller's ids when it is not root). */
  user?: { uid: number; gid: number; groups: number[]; setpriv: string };
}

/** The environment the command sees: the caller's relevant variables, `extra`, SCHEDVM_IN_SANDBOX=1. */
export function sandboxEnv(callerEnv: NodeJS.ProcessEnv, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(callerEnv)) {
    if (value !== undefined && (PASSED_ENV.includes(name) || name.startsWith('SCHEDVM_'))) env[name] = value;
  }
  return { ...env, ...extra, SCHEDVM_IN_SANDBOX: '1' };
}

export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

export function jobScript(job: Job): string {
  if (job.argv.length === 0) throw new Error('sandbox job: empty command');
  const exports = Object.entries(job.env)
    .filter(([name]) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    .map(([name, value]) => `export ${name}=${shellQuote(value)}`);
  const drop = job.user ? [job.user.setpriv, `--reuid=${job.user.uid}`, `--regid=${job.user.gid}`, job.user.groups.length > 0 ? `--groups=${job.user.groups.join(',')}` : '--clear-groups', '--'] : [];
  return [
    '# schedvm sandbox job, run by the VM init as: env -i chroot /host /bin/sh job.sh',
    ...exports,
    `cd ${shellQuote(job.cwd)} || exit 1`,
    `exec ${[...drop, ...job.argv].map(shellQuote).join(' ')}`,
    '',
  ].join('\n');
}

/** A private (0700) temp dir holding job.sh and the pid of the process that owns it. */
export function createJobDir(job: Job, root = tmpdir()): string {
  const dir = mkdtempSync(join(root, JOB_DIR_PREFIX));
  writeFileSync(join(dir, 'owner.pid'), `${process.pid}\n`);
  writeFileSync(join(dir, 'job.sh'), jobScript(job));
  return dir;
}

export function removeJobDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Removes job dirs left by sandbox runs that were SIGKILLed (their owner is gone). */
export function sweepStaleJobDirs(root = tmpdir()): void {
  let names: string[];
  try {
    names = readdirSync(root).filter((n) => n.startsWith(JOB_DIR_PREFIX));
  } catch {
    return;
  }
  for (const name of names) {
    const dir = join(root, name);
    try {
      const owner = Number(readFileSync(join(dir, 'owner.pid'), 'utf8'));
      if (Number.isInteger(owner) && owner > 0 && !processAlive(owner)) removeJobDir(dir);
    } catch {
      // Not ours to judge (unreadable, or being created right now).
    }
  }
}

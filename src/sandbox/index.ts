// Run a command where /dev/kvm works: on this host when it has KVM, else inside a QEMU
// TCG VM that emulates it (see run-in-vm.ts). `schedvm sandbox` and `npm test` use this.
import { resolve } from 'node:path';
import { UserError } from '../errors.ts';
import { needsSandbox, sandboxMode } from './detect.ts';
import { sandboxEnv } from './job.ts';
import { runDirect } from './run-direct.ts';
import { runInSandboxVm } from './run-in-vm.ts';

export { kvmUsable, sandboxMode } from './detect.ts';

export interface RunWithKvmOptions {
  cwd?: string;
  /** Use the sandbox VM even when this host has a usable /dev/kvm (as SCHEDVM_SANDBOX=force). */
  force?: boolean;
  /** Extra variables for the command, on top of the caller's. */
  env?: Record<string, string>;
}

/** Whether KVM work from this process has to go through the sandbox VM. */
export function shouldUseSandbox(force = false): boolean {
  // Already in the sandbox: its /dev/kvm is the one to use; TCG inside TCG gains nothing.
  if (process.env.SCHEDVM_IN_SANDBOX === '1') return false;
  return needsSandbox(force ? 'force' : sandboxMode());
}

/** Runs argv with a usable /dev/kvm, output on our stdout; resolves to its exit status. */
export async function runWithKvm(argv: string[], opts: RunWithKvmOptions = {}): Promise<number> {
  if (argv.length === 0) throw new UserError('no command to run');
  const cwd = resolve(opts.cwd ?? process.cwd());
  if (!shouldUseSandbox(opts.force)) {
    return runDirect(argv, { cwd, env: { ...process.env, ...opts.env } });
  }
  return runInSandboxVm(argv, {
    cwd,
    env: sandboxEnv(process.env, opts.env),
    verbose: process.env.SCHEDVM_SANDBOX_VERBOSE === '1',
  });
}

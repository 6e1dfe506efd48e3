// `schedvm sandbox [--force] -- <cmd...>`: run a command where /dev/kvm works.
import { UserError } from '../errors.ts';
import { runWithKvmPrepared } from './with-kvm.ts';

const usage = `usage: schedvm sandbox [--force] -- <cmd...>
  Runs <cmd> with a usable /dev/kvm: directly when this host has one, else inside a
  QEMU VM that emulates it (host root shared, same cwd, exit status passed back).
  --force                  use the VM even when /dev/kvm works (SCHEDVM_SANDBOX=force)
  SCHEDVM_SANDBOX          auto (default), force or never
  SCHEDVM_SANDBOX_MEM_MB   VM memory in MiB (default 6144)
  SCHEDVM_SANDBOX_VERBOSE  1 prints boot timings to stderr`;

export interface SandboxArgs {
  force: boolean;
  argv: string[];
}

export function parseSandboxArgs(args: string[]): SandboxArgs {
  const dashes = args.indexOf('--');
  const options = dashes < 0 ? args : args.slice(0, dashes);
  const argv = dashes < 0 ? [] : args.slice(dashes + 1);
  let force = false;
  for (const opt of options) {
    if (opt === '--force') force = true;
    else throw new UserError(`unknown option '${opt}'\n${usage}`);
  }
  if (argv.length === 0) throw new UserError(`missing command after '--'\n${usage}`);
  return { force, argv };
}

export async function main(args: string[]): Promise<number> {
  if (args[0] === '--help' || args[0] === '-h') {
    console.log(usage);
    return 0;
  }
  const { force, argv } = parseSandboxArgs(args);
  return runWithKvmPrepared(argv, { force });
}

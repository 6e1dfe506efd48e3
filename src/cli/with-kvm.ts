// Runs a command where /dev/kvm works, as runWithKvm does, but first makes ready on this host
// what the command's scenarios need when it is going into the sandbox VM, which has no network.
import { prepareScenariosOnHost, scenariosOfCommand } from '../runner/host-prep.ts';
import { runWithKvm, type RunWithKvmOptions, shouldUseSandbox } from '../sandbox/index.ts';

export async function runWithKvmPrepared(argv: string[], opts: RunWithKvmOptions = {}): Promise<number> {
  if (shouldUseSandbox(opts.force)) await prepareForSandbox(argv, opts.cwd ?? process.cwd());
  return runWithKvm(argv, opts);
}

/** Never fatal: what could not be made ready here fails inside, with its own clear error. */
export async function prepareForSandbox(argv: string[], cwd: string): Promise<void> {
  const say = (line: string) => process.stderr.write(`schedvm: ${line}\n`);
  try {
    const scenarios = scenariosOfCommand(argv, cwd);
    if (scenarios.length === 0) return;
    const done = await prepareScenariosOnHost(scenarios, (line) => say(`host: ${line}`));
    if (done.length > 0) say(`ready on the host before the sandbox: ${done.map((d) => `${d.what} ${d.ms} ms`).join('; ')}`);
  } catch (err) {
    say(`warning: could not prepare on the host (the sandbox has no network): ${(err as Error).message}`);
  }
}

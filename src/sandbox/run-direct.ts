// Runs the command on this host (it has a usable /dev/kvm): stdio inherited, exit status returned.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { forwardSignals } from './signals.ts';

export function runDirect(argv: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<number> {
  const [cmd, ...args] = argv as [string, ...string[]];
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: 'inherit' });
    // Passed on so `kill <our pid>` reaches the command too; we exit when it does.
    const stop = forwardSignals((signal) => child.kill(signal));
    child.on('error', (err: NodeJS.ErrnoException) => {
      stop();
      process.stderr.write(`schedvm sandbox: ${cmd}: ${err.code === 'ENOENT' ? 'command not found' : err.message}\n`);
      resolve(err.code === 'ENOENT' ? 127 : 126);
    });
    child.on('exit', (code, signal) => {
      stop();
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
    });
  });
}

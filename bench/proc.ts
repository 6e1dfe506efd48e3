// Child processes the cases time or read from.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
  wallMs: number;
  /** User + system CPU of the child and the descendants it waited for. */
  cpuMs: number;
}

/** Runs a command to its end; `onLine` sees stdout lines as they arrive, with the time since spawn. */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; onLine?: (line: string, ms: number) => void; timeoutMs?: number } = {}): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const before = reapedCpuMs();
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      const ms = performance.now() - t0;
      stdout += d;
      const lines = (partial + d).split('\n');
      partial = lines.pop()!;
      for (const l of lines) opts.onLine?.(l, ms);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const wallMs = performance.now() - t0;
      resolve({ code, stdout, stderr, wallMs, cpuMs: reapedCpuMs() - before });
    });
  });
}

// CPU of the children this process has reaped (cutime + cstime in /proc/self/stat, in clock
// ticks of 10 ms): process.resourceUsage() covers this process only. Children run one at a time.
function reapedCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

export async function runJson<T>(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<T> {
  const r = await run(cmd, args, env ? { env } : {});
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.slice(-2000)}`);
  const last = r.stdout.trim().split('\n').pop()!;
  return JSON.parse(last) as T;
}

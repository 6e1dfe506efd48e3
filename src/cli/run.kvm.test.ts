import { describe, expect, it } from 'vitest';
import { main } from './run.ts';

// `schedvm run` in this process: the same code the bin runs, without paying a node + tsx start
// per case (minutes under the sandbox's emulation). Input errors are tested by spawning the bin
// in run.test.ts, where no VM is needed.
async function schedvmRun(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => (err.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    const status = await main(args);
    return { status, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
  }
}
const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!);

describe('schedvm run', () => {
  it('hello: console streamed, result JSON as the last stdout line, exit 0', async () => {
    const r = await schedvmRun('scenarios/bare/hello.yaml', '--json');
    expect(r.status).toBe(0);
    expect(r.stdout.startsWith('Hello from schedvm!\n')).toBe(true);
    const result = lastJson(r.stdout);
    expect(result.exitAction).toBe('Shutdown');
    expect(result.console.com1).toBe('Hello from schedvm!\n');
    expect(r.stderr).toMatch(/hello: Shutdown after \d+ ms, expected Shutdown: pass/);
  });

  it('spin with --timeout 3 ends as Timeout soon after the deadline', async () => {
    const r = await schedvmRun('scenarios/bare/spin.yaml', '--timeout', '3', '--json');
    const result = lastJson(r.stdout);
    expect(result.exitAction).toBe('Timeout');
    expect(r.status).toBe(0); // the scenario expects Timeout
    expect(result.wallMs).toBeGreaterThanOrEqual(3000);
    expect(result.wallMs).toBeLessThan(3000 + 5000);
  });

  it('exits 1 when the exit action is not the expected one', async () => {
    const r = await schedvmRun('src/cli/testdata/hello-expects-timeout.yaml');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/hello-expects-timeout: Shutdown after \d+ ms, expected Timeout: FAIL/);
  });
});

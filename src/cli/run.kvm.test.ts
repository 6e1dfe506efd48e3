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
  process.stdout.write = ((chunk: string | Uint8Array) => out.push(String(chunk)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => err.push(String(chunk)) > 0) as typeof process.stderr.write;
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

  it.each(['spin', 'halt-forever'])('%s with --timeout 3: Timeout, the VM stopped within 5 s of the deadline', async (guest) => {
    const r = await schedvmRun(`scenarios/bare/${guest}.yaml`, '--timeout', '3', '--json');
    const result = lastJson(r.stdout);
    expect(result.exitAction).toBe('Timeout');
    expect(r.status).toBe(0); // the scenario expects Timeout
    // The VM's own run, start to result: the guest build and the VM's setup before it (seconds
    // more under a loaded sandbox's emulation) are not the deadline's business.
    expect(result.wallMs).toBeGreaterThanOrEqual(3000);
    expect(result.wallMs).toBeLessThan(3000 + 5000);
  });

  it('exit-kind --json: the slot-0 watchpoint latched 1024, every vCPU frozen with a snapshot', async () => {
    const r = await schedvmRun('scenarios/bare/exit-kind.yaml', '--json');
    const result = lastJson(r.stdout);
    expect(result.watchpoints.scx_exit_kind).toMatchObject({ slot: 0, hit: true, value: '0x400' }); // bigints print as hex
    const frozen = result.snapshots.filter((x: { trigger: string }) => x.trigger === 'watchpoint:scx_exit_kind');
    expect(frozen.map((x: { vcpu: number }) => x.vcpu).sort()).toEqual([0, 1]);
    for (const x of frozen) expect(x.text).toMatch(/^ip=0x[0-9a-f]{16} sp=0x[0-9a-f]{16} ptroot=0x[0-9a-f]{16}$/);
  });

  it('exits 1 when the exit action is not the expected one', async () => {
    const r = await schedvmRun('src/cli/testdata/hello-expects-timeout.yaml');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/hello-expects-timeout: Shutdown after \d+ ms, expected Timeout: FAIL/);
  });
});

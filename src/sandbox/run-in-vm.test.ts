// superviseQemu against a stand-in for QEMU (a shell printing what the VM's console would),
// so the console handling, exit statuses, failures and signals are checked without a VM.
import { PassThrough } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { UserError } from '../errors.ts';
import { SandboxStalledError, sandboxCpus, sandboxStallMs, type StallHandler, superviseQemu } from './run-in-vm.ts';

const NONCE = 'feedface';

function fakeQemu(script: string, stallMs?: number, onStall?: StallHandler) {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (b: Buffer) => chunks.push(b));
  const status = superviseQemu({ file: '/bin/sh', args: ['-c', script], nonce: NONCE, stdout: out, ...(stallMs ? { stallMs } : {}), ...(onStall ? { onStall } : {}) });
  return { status, output: () => Buffer.concat(chunks).toString() };
}

describe('superviseQemu', () => {
  test("returns the command's status and streams only its output", async () => {
    const run = fakeQemu(`printf 'SeaBIOS\\r\\nboot noise\\r\\nSCHEDVM-${NONCE} start\\r\\nhello\\r\\nSCHEDVM-${NONCE} exit 7\\r\\nreboot: Power down\\r\\n'`);
    expect(await run.status).toBe(7);
    expect(run.output()).toBe('hello\n');
  });

  test('an init failure is a UserError carrying the end of the boot log', async () => {
    const run = fakeQemu(`printf 'schedvm sandbox init: mounting the host root over 9p failed\\r\\nSCHEDVM-${NONCE} failed\\r\\n'`);
    const err = await run.status.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(/could not be set up[\s\S]*mounting the host root over 9p failed/);
  });

  test('QEMU ending before the exit marker is a UserError with its stderr', async () => {
    const run = fakeQemu(`printf 'SCHEDVM-${NONCE} start\\r\\npartial'; echo 'qemu: could not load kernel' >&2; exit 1`);
    const err = await run.status.catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/stopped \(QEMU exit 1\) before the command finished[\s\S]*could not load kernel/);
    expect(run.output()).toBe('partial');
  });

  test('a stop signal kills QEMU, resolves to 128+signal and unhooks the handlers', async () => {
    const listeners = process.listenerCount('SIGTERM');
    const run = fakeQemu(`printf 'SCHEDVM-${NONCE} start\\r\\n'; exec sleep 60`);
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    process.emit('SIGTERM', 'SIGTERM');
    expect(await run.status).toBe(143);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(process.listenerCount('SIGTERM')).toBe(listeners);
  });
});

describe('the heartbeat watchdog', () => {
  test('kills a VM that stops sending heartbeats, with a SandboxStalledError', async () => {
    const started = Date.now();
    const run = fakeQemu(`printf 'SCHEDVM-${NONCE} start\\r\\nworking\\r\\n'; exec sleep 60`, 400);
    const err = await run.status.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SandboxStalledError);
    expect((err as Error).message).toMatch(/no heartbeat from its init for \d+ s, so QEMU was killed/);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(run.output()).toBe('working\n');
  });

  test('captures the stalled VM (its pid, the last beat counters) before killing it, and names the report', async () => {
    const seen: Array<{ alive: boolean; silentMs: number; stats: string | undefined }> = [];
    const onStall: StallHandler = async (pid, silentMs, beat) => {
      let alive = true;
      try {
        process.kill(pid, 0);
      } catch {
        alive = false;
      }
      seen.push({ alive, silentMs, stats: beat?.stats });
      return '/artifacts/stall.txt';
    };
    const run = fakeQemu(`printf 'SCHEDVM-${NONCE} start\r\nSCHEDVM-${NONCE} alive exits=42 load=1.00\r\n'; exec sleep 60`, 400, onStall);
    const err = (await run.status.catch((e: unknown) => e)) as SandboxStalledError;
    expect(err).toBeInstanceOf(SandboxStalledError);
    expect(err.reportFile).toBe('/artifacts/stall.txt');
    expect(err.message).toContain('what it was doing: /artifacts/stall.txt');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ alive: true, stats: 'exits=42 load=1.00' });
    expect(seen[0]!.silentMs).toBeGreaterThanOrEqual(400);
  });

  test('a capture that fails still kills QEMU with a SandboxStalledError', async () => {
    const run = fakeQemu(`printf 'SCHEDVM-${NONCE} start\r\n'; exec sleep 60`, 400, () => Promise.reject(new Error('no QMP')));
    const err = (await run.status.catch((e: unknown) => e)) as SandboxStalledError;
    expect(err).toBeInstanceOf(SandboxStalledError);
    expect(err.reportFile).toBeUndefined();
  });

  test('heartbeats keep a quiet command alive, and are not part of its output', async () => {
    const beats = Array.from({ length: 8 }, () => `printf 'SCHEDVM-${NONCE} alive\\r\\n'; sleep 0.1`).join('; ');
    const run = fakeQemu(`printf 'SCHEDVM-${NONCE} start\\r\\nx'; ${beats}; printf 'y\\r\\nSCHEDVM-${NONCE} exit 0\\r\\n'`, 400);
    expect(await run.status).toBe(0);
    expect(run.output()).toBe('xy\n');
  });

  test('SCHEDVM_SANDBOX_STALL_S sets the limit, and is checked', () => {
    expect(sandboxStallMs({})).toBe(90_000);
    expect(sandboxStallMs({ SCHEDVM_SANDBOX_STALL_S: '120' })).toBe(120_000);
    expect(() => sandboxStallMs({ SCHEDVM_SANDBOX_STALL_S: '5' })).toThrow(/at least 30/);
  });
});

describe('sandboxCpus', () => {
  test('one vCPU unless told otherwise, and a clear error for nonsense', () => {
    expect(sandboxCpus({})).toBe(1);
    expect(sandboxCpus({ SCHEDVM_SANDBOX_CPUS: '1' })).toBe(1);
    expect(() => sandboxCpus({ SCHEDVM_SANDBOX_CPUS: 'two' })).toThrow(UserError);
    expect(() => sandboxCpus({ SCHEDVM_SANDBOX_CPUS: '0' })).toThrow(/SCHEDVM_SANDBOX_CPUS='0': expected a whole number from 1/);
  });
});

import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { buildGuest } from '../../../fixtures/guests/build.ts';
import { buildMachine, setupVcpu, type Machine } from '../../arch-machine.ts';
import { resolveTopology, type VmConfig } from '../../config.ts';
import type { VcpuFd } from '../../kvm.ts';
import { EINTR, gettid, SIGUSR2, tgkill } from '../../sys/libc.ts';
import { Doorbell, NativeVcpu } from './native-vcpu.ts';

const KVM_EXIT_IO = 2;
const FLOOD_PORT = 0x510;
const I8042_CMD = 0x64;
const COM1_LSR = 0x3fd;

let open: { machine: Machine; vcpu: VcpuFd } | undefined;
afterEach(() => {
  open?.vcpu.close();
  open?.machine.close();
  open?.machine.memory.release();
  open = undefined;
});

async function vcpuFor(guest: string, arg = 0) {
  const config: VmConfig = { vcpus: 1, memoryMb: 64, guest: { kind: 'bare', image: await buildGuest(guest), arg }, timeoutMs: 30_000 };
  const machine = buildMachine(config, resolveTopology(config));
  const init = machine.vcpuInit(0);
  const vcpu = machine.vm.createVcpu(init.apicId, machine.kvm.vcpuMmapSize());
  open = { machine, vcpu };
  setupVcpu(vcpu, { ...init, linuxCpuState: false });
  return vcpu;
}

/** KVM_RUN's status once the thread posted it (the doorbell rings once per post). */
function awaitExit(nv: NativeVcpu, bell: Doorbell): number {
  for (;;) {
    const status = nv.takeExit();
    if (status !== undefined) return status;
    bell.wait(1000);
  }
}
function runOnce(nv: NativeVcpu, bell: Doorbell): number {
  nv.enter();
  return awaitExit(nv, bell);
}

const taskAlive = (tid: number) => existsSync(`/proc/self/task/${tid}`);

describe('native vCPU thread', () => {
  it('runs the guest on its own thread and hands each exit to this one, in order', async () => {
    const writes = 2000;
    const vcpu = await vcpuFor('port-flood', writes);
    const bell = new Doorbell();
    const nv = NativeVcpu.start(vcpu.fd, bell);
    expect(nv.tid).not.toBe(gettid());
    expect(taskAlive(nv.tid)).toBe(true);

    const seen: number[] = [];
    for (;;) {
      expect(runOnce(nv, bell)).toBe(0);
      expect(vcpu.exitReason()).toBe(KVM_EXIT_IO);
      const port = vcpu.run.getUint16(34, true);
      const out = vcpu.run.getUint8(32) === 1;
      const data = Number(vcpu.run.getBigUint64(40, true));
      if (!out)
        vcpu.run.setUint8(data, port === COM1_LSR ? 0x60 : 0); // transmitter empty
      else if (port === FLOOD_PORT) seen.push(vcpu.run.getUint8(data));
      else if (port === I8042_CMD) break; // the guest's reset: it is done
    }
    // The guest writes N, N-1, ... 1 (the low byte): every exit arrived once, in order.
    expect(seen).toHaveLength(writes);
    expect(seen.every((b, i) => b === ((writes - i) & 0xff))).toBe(true);

    nv.stop();
    while (!nv.gone) bell.wait(1000);
    nv.release();
    bell.release();
    for (let i = 0; i < 100 && taskAlive(nv.tid); i++) await new Promise((r) => setTimeout(r, 10));
    expect(taskAlive(nv.tid)).toBe(false);
  });

  it('a kick (immediate_exit + SIGUSR2) brings a spinning guest back with EINTR', async () => {
    const onSignal = () => {};
    process.on('SIGUSR2', onSignal); // the VMM installs this; unhandled, SIGUSR2 would end the process
    try {
      const vcpu = await vcpuFor('spin');
      const bell = new Doorbell();
      const nv = NativeVcpu.start(vcpu.fd, bell);
      nv.enter();
      bell.wait(0); // the thread's start may ring after its tid was seen
      expect(bell.wait(200)).toBe(false); // spinning in the guest: nothing posted
      expect(nv.takeExit()).toBeUndefined();
      vcpu.setImmediateExit(true);
      tgkill(process.pid, nv.tid, SIGUSR2);
      expect(awaitExit(nv, bell)).toBe(EINTR);
      vcpu.setImmediateExit(false);
      nv.stop();
      while (!nv.gone) bell.wait(1000);
      nv.release();
      bell.release();
    } finally {
      process.off('SIGUSR2', onSignal);
    }
  });

  it('refuses to stop a thread that is in KVM_RUN', async () => {
    const vcpu = await vcpuFor('spin');
    const bell = new Doorbell();
    const nv = NativeVcpu.start(vcpu.fd, bell);
    nv.enter();
    expect(() => nv.stop()).toThrow(/kick it out/);
    vcpu.setImmediateExit(true);
    process.on('SIGUSR2', () => {});
    tgkill(process.pid, nv.tid, SIGUSR2);
    awaitExit(nv, bell);
    nv.stop();
    while (!nv.gone) bell.wait(1000);
  });
});

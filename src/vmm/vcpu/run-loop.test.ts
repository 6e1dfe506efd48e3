import { afterEach, describe, expect, it } from 'vitest';
import { CoalescedRing, coalescedRingLock } from '../coalesced-ring.ts';
import { kvmQueue } from '../coalesced-ring.testing.ts';
import { I8042 } from '../devices/i8042.ts';
import { COM1_BASE, Serial8250 } from '../devices/serial.ts';
import { ExitReason, KVM_EXIT_IO_OUT, kvmRun } from '../sys/kvm-abi.ts';
import { close, EAGAIN, EFD_CLOEXEC, EFD_NONBLOCK, EINTR, eventfd, eventfdDrain } from '../sys/libc.ts';
import { ActionCode, FatalKind, VmControl } from './control.ts';
import { vcpuRunLoop, type RunLoopContext, type RunnableVcpu } from './run-loop.ts';

const EBADF = 9;

/** One KVM_RUN: an errno it fails with, or the exit it leaves in kvm_run. */
type Step = { errno: number } | { exit: (run: DataView) => void };
const fail = (errno: number): Step => ({ errno });
const exitWith = (reason: number, fill: (run: DataView) => void = () => {}): Step => ({
  exit: (run) => {
    run.setUint32(kvmRun.exit_reason, reason, true);
    fill(run);
  },
});
const hlt = exitWith(ExitReason.HLT);
const shutdown = exitWith(ExitReason.SHUTDOWN);

/** A vCPU that plays `steps` and throws if the loop asks for one more run than scripted. */
class FakeVcpu implements RunnableVcpu {
  readonly runBytes = new Uint8Array(4096);
  readonly run = new DataView(this.runBytes.buffer);
  runs = 0;
  /** Called before each run: lets a test kill or freeze the VM "from another thread". */
  onRun: (n: number) => void = () => {};

  constructor(private readonly steps: Step[]) {}

  get immediateExit(): boolean {
    return this.runBytes[kvmRun.immediate_exit] !== 0;
  }
  setImmediateExit(on: boolean): void {
    this.runBytes[kvmRun.immediate_exit] = on ? 1 : 0;
  }
  runOnce(): number {
    const step = this.steps[this.runs++];
    if (!step) throw new Error(`KVM_RUN #${this.runs} was not scripted: the loop should have left`);
    this.onRun(this.runs);
    if ('errno' in step) return step.errno;
    step.exit(this.run);
    return 0;
  }
}

let killEventFd = -1;
afterEach(() => {
  if (killEventFd >= 0) close(killEventFd);
  killEventFd = -1;
});

function loopWith(steps: Step[], extra: Partial<RunLoopContext> = {}) {
  const vcpu = new FakeVcpu(steps);
  const control = VmControl.create(2);
  killEventFd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  const ctx: RunLoopContext = { index: 1, vcpu, bus: { i8042: new I8042(), mmio: [] }, control, killEventFd, ...extra };
  return { vcpu, control, run: () => vcpuRunLoop(ctx), killEdges: () => eventfdDrain(killEventFd) };
}

describe('vcpuRunLoop: KVM_RUN results', () => {
  it.each([
    ['EINTR', EINTR],
    ['EAGAIN', EAGAIN],
  ])('clears immediate_exit after %s and runs again', (_, errno) => {
    const t = loopWith([fail(errno), shutdown]);
    t.vcpu.setImmediateExit(true); // as a kick leaves it
    let immediateExitAtSecondRun: boolean | undefined;
    t.vcpu.onRun = (n) => {
      if (n === 2) immediateExitAtSecondRun = t.vcpu.immediateExit;
    };
    const stats = t.run();
    expect(t.vcpu.runs).toBe(2);
    expect(immediateExitAtSecondRun).toBe(false);
    expect(stats).toEqual({ byReason: { Shutdown: 1 } });
    expect(t.control.exits(1)).toBe(1);
  });

  it('leaves after an EINTR when the kick was a kill', () => {
    const t = loopWith([fail(EINTR)]);
    t.vcpu.onRun = () => t.control.kill();
    expect(t.run()).toEqual({ byReason: {} });
    expect(t.control.exits(1)).toBe(0);
  });

  it('ends the VM as Fatal on any other KVM_RUN error, with the errno (re-entering would repeat it)', () => {
    const t = loopWith([fail(EBADF)]);
    expect(t.run()).toEqual({ byReason: {} });
    expect(t.control.exits(1)).toBe(0);
    expect(t.control.action).toEqual({ code: ActionCode.Fatal, vcpu: 1, fatalKind: FatalKind.RunErrno, detail: BigInt(EBADF) });
    expect(t.control.killed).toBe(true);
    expect(t.control.snapshotOnExit).toBe(true);
    expect(t.killEdges()).toBe(1n);
  });
});

describe('vcpuRunLoop: exits', () => {
  it('re-enters the guest after Hlt, counting each exit, by reason', () => {
    const t = loopWith([hlt, hlt, shutdown]);
    expect(t.run()).toEqual({ byReason: { Hlt: 2, Shutdown: 1 } });
    expect(t.control.exits(1)).toBe(3);
    expect(t.control.action.code).toBe(ActionCode.Shutdown);
  });

  it('on Shutdown sets the kill flag, records the action, writes one kill edge and leaves', () => {
    const t = loopWith([shutdown]);
    t.run();
    expect(t.control.killed).toBe(true);
    expect(t.control.action).toEqual({ code: ActionCode.Shutdown, vcpu: 1, fatalKind: 0, detail: 0n });
    expect(t.killEdges()).toBe(1n);
    expect(t.control.snapshotOnExit).toBe(false);
  });

  it('on a FailEntry exit records Fatal with the hardware reason, asks for snapshots, kills and leaves', () => {
    const t = loopWith([exitWith(ExitReason.FAIL_ENTRY, (r) => r.setBigUint64(kvmRun.fail_entry.hardware_entry_failure_reason, 0x80000021n, true))]);
    t.run();
    expect(t.control.killed).toBe(true);
    expect(t.control.action).toEqual({ code: ActionCode.Fatal, vcpu: 1, fatalKind: FatalKind.FailEntry, detail: 0x80000021n });
    expect(t.control.snapshotOnExit).toBe(true);
    expect(t.killEdges()).toBe(1n);
  });

  it('on an InternalError exit records Fatal (internal error), asks for snapshots, kills and leaves', () => {
    const t = loopWith([exitWith(ExitReason.INTERNAL_ERROR, (r) => r.setUint32(kvmRun.internal.suberror, 3, true))]);
    t.run();
    expect(t.control.killed).toBe(true);
    expect(t.control.action).toMatchObject({ code: ActionCode.Fatal, fatalKind: FatalKind.InternalError, detail: 3n });
    expect(t.control.snapshotOnExit).toBe(true);
    expect(t.killEdges()).toBe(1n);
  });

  it('on an exit reason it does not know records Fatal with the reason, and leaves', () => {
    const t = loopWith([hlt, exitWith(ExitReason.IRQ_WINDOW_OPEN)]);
    expect(t.run()).toEqual({ byReason: { Hlt: 1, Other: 1 } });
    expect(t.control.exits(1)).toBe(2);
    expect(t.control.action).toEqual({ code: ActionCode.Fatal, vcpu: 1, fatalKind: FatalKind.UnknownExit, detail: BigInt(ExitReason.IRQ_WINDOW_OPEN) });
    expect(t.control.snapshotOnExit).toBe(true);
  });

  it("hands a Debug exit's kvm_debug_exit_arch to onDebug and runs on", () => {
    const seen: bigint[] = [];
    const debug = exitWith(ExitReason.DEBUG, (r) => r.setBigUint64(kvmRun.debug.arch + 16, 0xffff0ff4n, true));
    const t = loopWith([debug, shutdown], { onDebug: (exit) => seen.push(exit.getBigUint64(16, true)) });
    t.run();
    expect(seen).toEqual([0xffff0ff4n]);
    expect(t.vcpu.runs).toBe(2);
  });
});

describe('vcpuRunLoop: coalesced UART writes', () => {
  const MCR_LOOP = 0x10;
  /** An OUT of `value` to `port` (one byte), its data at the end of the fake kvm_run. */
  const outb = (port: number, value: number) =>
    exitWith(ExitReason.IO, (r) => {
      r.setUint8(kvmRun.io.direction, KVM_EXIT_IO_OUT);
      r.setUint8(kvmRun.io.size, 1);
      r.setUint16(kvmRun.io.port, port, true);
      r.setUint32(kvmRun.io.count, 1, true);
      r.setBigUint64(kvmRun.io.data_offset, 4000n, true);
      r.setUint8(4000, value);
    });
  function withRing(steps: Step[]) {
    const page = new Uint8Array(4096);
    const com1 = Serial8250.create();
    const t = loopWith(steps, { coalesced: new CoalescedRing(page, coalescedRingLock()), bus: { i8042: new I8042(), com1, mmio: [] } });
    const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
    return { ...t, page, output: () => text(com1.output.drain()), input: () => text(com1.input.drain()) };
  }

  it('applies the queued bytes before the exit that follows them', () => {
    const t = withRing([outb(COM1_BASE + 4, MCR_LOOP), shutdown]);
    for (const c of 'hi') kvmQueue(t.page, COM1_BASE, [c.charCodeAt(0)]);
    t.run();
    // Applied after the MCR write, loopback would have turned them into input.
    expect(t.output()).toBe('hi');
    expect(t.input()).toBe('');
  });

  it("applies what was queued when a kill's kick ends the run: the VM's last output", () => {
    const t = withRing([fail(EINTR)]);
    t.vcpu.onRun = () => {
      kvmQueue(t.page, COM1_BASE, [0x21]);
      t.control.kill();
    };
    t.run();
    expect(t.output()).toBe('!');
  });
});

describe('vcpuRunLoop: kill and freeze', () => {
  it('never runs when the kill flag is already set', () => {
    const t = loopWith([]);
    t.control.kill();
    expect(t.run()).toEqual({ byReason: {} });
    expect(t.control.exits(1)).toBe(0);
    expect(t.vcpu.runs).toBe(0);
  });

  it('stops before the next run once another vCPU set the kill flag', () => {
    const t = loopWith([hlt]);
    t.vcpu.onRun = () => t.control.kill();
    t.run();
    expect(t.control.exits(1)).toBe(1);
    expect(t.killEdges()).toBe(0n); // the killer signals, not this vCPU
  });

  it('parks for a freeze, then re-arms, then runs', () => {
    const order: string[] = [];
    const t = loopWith([shutdown], {
      onFreeze: () => {
        order.push('freeze');
        t.control.clearFreeze(); // thawed
      },
      beforeRun: () => order.push('arm'),
    });
    t.vcpu.onRun = () => order.push('run');
    t.control.requestFreeze();
    t.run();
    expect(order).toEqual(['freeze', 'arm', 'run']);
  });

  it('does not run when killed while parked', () => {
    const t = loopWith([], {
      onFreeze: () => {
        t.control.kill();
      },
    });
    t.control.requestFreeze();
    t.run();
    expect(t.vcpu.runs).toBe(0);
  });
});

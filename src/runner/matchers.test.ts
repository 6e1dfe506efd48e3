import { describe, expect, it } from 'vitest';
import { hasScenarioGates, scenarioGate, scenarioGateFailures, schedulerExitGate, workloadProgramGate, workloadShellGate } from './gates.ts';
import { parseScenario } from './scenario/load.ts';
import './matchers.ts';
import type { ScenarioResult, SchedVm, SnapshotRecord } from './types.ts';
import { parseWorkload } from '../fixtures/workload/metrics.ts';

const snap = (vcpu: number, ip: number, trigger: string): SnapshotRecord => ({
  vcpu,
  trigger,
  instruction_pointer: `0x${ip.toString(16).padStart(16, '0')}`,
  stack_pointer: '0x0000000000404000',
  page_table_root: '0x0000000000009000',
  text: `ip=0x${ip.toString(16).padStart(16, '0')} sp=0x0000000000404000 ptroot=0x0000000000009000`,
});

function result(over: Partial<ScenarioResult> = {}): ScenarioResult {
  return {
    scenario: 'demo',
    exitAction: 'Timeout',
    console: { com1: Array.from({ length: 40 }, (_, i) => `line ${i}`).join('\n'), com2: '', hvc0: '' },
    vcpus: [],
    watchpoints: { ek: { slot: 0, hit: true, vcpu: 0, value: 1024n }, quiet: { slot: 1, hit: false } },
    watchMechanism: 'debugregs',
    snapshots: [snap(0, 0x100001, 'timeout'), snap(1, 0x100010, 'api')],
    wallMs: 1000,
    warnings: [],
    ...over,
  };
}

/** A vm fixture stand-in: only what the matchers read. */
const vmOf = (r: ScenarioResult | undefined, symbols: Record<string, number> = {}) => ({ run: async () => r!, result: r, symbols, state: r ? 'ended' : 'running' }) as unknown as SchedVm;

/** The message of a failing assertion. */
function failure(fn: () => void): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected the assertion to fail');
}

describe('toExitWith', () => {
  it('passes on the exit action, from a result or an ended vm', () => {
    expect(result()).toExitWith('Timeout');
    expect(vmOf(result())).toExitWith('Timeout');
    expect(result()).not.toExitWith('Shutdown');
  });

  it('explains a failure: exit reason, snapshots, the console tail', () => {
    const msg = failure(() => expect(result({ exitAction: 'Fatal', fatalReason: 'vCPU 0: KVM_EXIT_INTERNAL_ERROR' })).toExitWith('Shutdown'));
    expect(msg).toContain('expected demo to exit with Shutdown, it exited with Fatal');
    expect(msg).toContain('exit: Fatal (vCPU 0: KVM_EXIT_INTERNAL_ERROR) after 1000 ms');
    expect(msg).toContain('vcpu 0 [timeout] ip=0x0000000000100001 sp=');
    expect(msg).toContain('  | line 39');
    expect(msg).toContain('(10 earlier lines)');
    expect(msg).not.toContain('  | line 9\n');
  });

  it('says when the VM has not ended yet, and rejects unknown actions', () => {
    expect(failure(() => expect(vmOf(undefined)).toExitWith('Shutdown'))).toMatch(/has not ended \(it is running\): await vm.run\(\)/);
    expect(failure(() => expect(result()).toExitWith('Crash' as 'Fatal'))).toMatch(/'Crash' is not an exit action/);
  });
});

describe('toHaveLatched', () => {
  it('passes for a latched watchpoint and .not for a quiet one', () => {
    expect(result()).toHaveLatched('ek');
    expect(result()).not.toHaveLatched('quiet');
  });
  it('explains both directions', () => {
    expect(failure(() => expect(result()).toHaveLatched('quiet'))).toMatch(/expected watchpoint 'quiet' to latch; it did not latch \(slot 1\)/);
    expect(failure(() => expect(result()).not.toHaveLatched('ek'))).toMatch(/'ek' not to latch; it latched on vCPU 0 with value 1024/);
  });
  it('names the known watchpoints for a typo, with or without .not', () => {
    expect(failure(() => expect(result()).toHaveLatched('eek'))).toContain("no watchpoint 'eek' (known: ek, quiet)");
    expect(failure(() => expect(result()).not.toHaveLatched('eek'))).toContain("no watchpoint 'eek'");
  });
});

describe('toHaveSnapshotAt', () => {
  const symbols = { _start: 0x100000, spin_loop: 0x100001, spin_loop_end: 0x100003, far: 0x100100 };
  it('matches a symbol, a numeric range, and filters by trigger and vCPU', () => {
    const vm = vmOf(result(), symbols);
    expect(vm).toHaveSnapshotAt('spin_loop');
    expect(vm).toHaveSnapshotAt('spin_loop', { trigger: 'timeout', vcpu: 0 });
    expect(vm).not.toHaveSnapshotAt('spin_loop', { trigger: 'api' });
    expect(result()).toHaveSnapshotAt({ from: 0x100010, to: 0x100011 }, { trigger: /^ap/ });
    expect(result()).toHaveSnapshotAt({ from: 0x100000n, to: 0x100002n }, { vcpu: 0 });
    expect(result()).not.toHaveSnapshotAt({ from: 0x100002, to: 0x100010 });
  });
  it('explains a miss with the snapshots it saw', () => {
    const msg = failure(() => expect(vmOf(result(), symbols)).toHaveSnapshotAt('_start', { trigger: 'timeout' }));
    expect(msg).toContain('expected a snapshot (trigger timeout) with its ip in _start [0x100000, 0x100001); 0 of 1 matching snapshots are there');
    expect(msg).toContain('vcpu 1 [api] ip=0x0000000000100010');
  });
  it("matches a Linux kernel function through the snapshots' symbols", () => {
    const linux = result({
      snapshots: [
        { ...snap(0, 0x100001, 'watchpoint:state'), symbol: 'kernel_restart_prepare+0x2b' },
        { ...snap(1, 0x100010, 'watchpoint:state'), symbol: 'do_idle+0x1a4' },
      ],
    });
    expect(linux).toHaveSnapshotAt('kernel_restart_prepare', { vcpu: 0 });
    expect(linux).toHaveSnapshotAt('do_idle');
    expect(linux).not.toHaveSnapshotAt('kernel_restart'); // a prefix of another function is not that function
    expect(failure(() => expect(linux).toHaveSnapshotAt('do_idle', { vcpu: 0 }))).toContain('with its ip in kernel function do_idle; 0 of 1');
  });
  it('needs a symbol table for a symbol', () => {
    expect(failure(() => expect(result()).toHaveSnapshotAt('_start'))).toMatch(/no symbol table for this guest/);
  });
});

describe('toHaveSchedulerExit', () => {
  const sched = (exitKind: NonNullable<ScenarioResult['scheduler']>['exitKind']) =>
    result({
      exitAction: 'Shutdown',
      scheduler: {
        name: 'scx_fault',
        state: 'enabled',
        exitKind,
        reason: 'runnable task stall',
        dump: ['EXIT: runnable task stall'],
        dmesg: [],
        progress: [5, 0],
        watchpointLatched: false,
        exitKindWatch: 'not armed: test',
      },
    });

  it('passes on the exit kind, and .not on any other', () => {
    expect(sched('unreg')).toHaveSchedulerExit('unreg');
    expect(vmOf(sched('error_stall'))).toHaveSchedulerExit('error_stall');
    expect(sched('error_stall')).not.toHaveSchedulerExit('unreg');
  });

  it('explains a mismatch with the reason, the dump and the workload progress', () => {
    const msg = failure(() => expect(sched('error_stall')).toHaveSchedulerExit('unreg'));
    expect(msg).toContain('expected scheduler scx_fault of demo to exit with unreg, it exited with error_stall');
    expect(msg).toContain('scheduler scx_fault: enabled, exit kind error_stall (runnable task stall)');
    expect(msg).toContain('workload rounds per thread: 5 0');
    expect(msg).toContain('  | EXIT: runnable task stall');
  });

  it('says when the scenario runs no scheduler, or the kind is not one', () => {
    expect(failure(() => expect(result()).toHaveSchedulerExit('unreg'))).toContain('demo runs no scheduler (add scheduler: to the scenario)');
    expect(failure(() => expect(sched('unreg')).toHaveSchedulerExit('crashed' as 'unreg'))).toContain("'crashed' is not an exit kind");
  });
});

describe('workloadShellGate (a workload shell must exit 0)', () => {
  const s = parseScenario('name: w\nkernel: debian-sched-ext\nscheduler: { name: scx_simple }\nworkload: { shell: "stress-ng --cpu 1" }\n', 'w.yaml');
  const ran = (workloadExit?: number, state: 'enabled' | 'not_enabled' = 'enabled') =>
    result({
      scheduler: {
        name: 'scx_simple',
        state,
        exitKind: 'unreg',
        dump: [],
        dmesg: [],
        watchpointLatched: false,
        exitKindWatch: 'not armed: test',
        ...(workloadExit !== undefined ? { workloadExit } : {}),
      },
    });

  it('fails a shell that exited non-zero, or never said, with the console', () => {
    expect(hasScenarioGates(s)).toBe(true);
    expect(workloadShellGate('w.yaml', s, ran(0))).toBeUndefined();
    expect(workloadShellGate('w.yaml', s, ran(127))).toMatch(/^workload\.shell of w\.yaml exited with 127\n\n.*line 39/s);
    expect(workloadShellGate('w.yaml', s, ran())).toMatch(/^workload\.shell of w\.yaml never reported its exit status/);
  });

  it('leaves a scheduler that never loaded to expect.scheduler_exit, and scenarios without a shell alone', () => {
    expect(workloadShellGate('w.yaml', s, ran(undefined, 'not_enabled'))).toBeUndefined();
    const noShell = parseScenario('name: w\nkernel: debian-sched-ext\nscheduler: { name: scx_simple }\n', 'w.yaml');
    expect(workloadShellGate('w.yaml', noShell, ran(1))).toBeUndefined();
    expect(hasScenarioGates(noShell)).toBe(false);
  });
});

describe('workloadProgramGate (the workload program must end well)', () => {
  const groups = parseScenario('name: g\nkernel: debian-sched-ext\nworkload: { baseline: default, groups: [{ name: a, kind: spin }] }\nscheduler: { name: scx_simple }\n', 'g.yaml');

  it('fails a crashed run, gates or none, naming the run and showing the console', () => {
    expect(hasScenarioGates(groups)).toBe(true);
    expect(workloadProgramGate('g.yaml', result({ workloadExit: { baseline: 0, scenario: 0 } }))).toBeUndefined();
    expect(workloadProgramGate('g.yaml', result({ workloadExit: { baseline: 0, scenario: 139 } }))).toMatch(
      /^the workload program of g\.yaml failed: the scenario run exited with 139 \(its error is in the console\)\n\n.*line 39/s,
    );
    expect(scenarioGate('g.yaml', groups, result({ workloadExit: { baseline: 1 } }))).toMatch(/the baseline run \(default scheduler\) exited with 1/);
  });

  it('leaves a run the VM stopped before the program ended alone (no status)', () => {
    expect(workloadProgramGate('g.yaml', result())).toBeUndefined();
  });

  it('reports a failed program once, not again as missing measurements of each gate', () => {
    const gated = parseScenario('name: g\nkernel: debian-sched-ext\nworkload: { groups: [{ name: a, kind: spin }] }\nexpect: { workload: { max_gap_ms: 100 } }\n', 'g.yaml');
    const verdict = scenarioGate('g.yaml', gated, result({ workloadExit: { scenario: 1 } }))!;
    expect(verdict).toMatch(/scenario run exited with 1/);
    expect(verdict).not.toMatch(/printed no measurements/);
  });
});

describe('scenarioGateFailures (every failing gate, for schedvm run)', () => {
  it('lists each failing gate on its own, its headline first', () => {
    const s = parseScenario('name: g\nkernel: debian-sched-ext\nscheduler: { name: scx_fault }\nsteps: [{ at_s: 1, detach_scheduler: {} }]\nexpect: { scheduler_exit: unreg }\n', 'g.yaml');
    const r = result({
      scheduler: { name: 'scx_fault', state: 'enabled', exitKind: 'error_bpf', dump: [], dmesg: [], watchpointLatched: true, exitKindWatch: 'armed' },
      steps: [{ index: 0, kind: 'detach_scheduler', atS: 1, ok: false, message: 'no scheduler is running', output: [], dmesg: [] }],
    });
    const failures = scenarioGateFailures('g.yaml', s, r);
    expect(failures.map((f) => f.split('\n\n')[0])).toEqual([
      'expect.scheduler_exit of g.yaml: expected scheduler scx_fault of demo to exit with unreg, it exited with error_bpf',
      'steps[0] (detach_scheduler at 1 s) of g.yaml failed: no scheduler is running',
    ]);
    expect(scenarioGate('g.yaml', s, r)).toBe(failures.join('\n\n'));
  });
});

describe('schedulerExitGate (the CI gate of expect.scheduler_exit)', () => {
  const ran = (exitKind: NonNullable<ScenarioResult['scheduler']>['exitKind']) =>
    result({
      scheduler: { name: 'scx_fault', state: 'enabled', exitKind, dump: [], dmesg: [], watchpointLatched: false, exitKindWatch: 'not armed: test' },
    });

  it('fails a mismatch, naming the file, the expected and the actual kind', () => {
    const verdict = schedulerExitGate('sched/fault.yaml', 'unreg', ran('error_bpf'));
    expect(verdict).toMatch(/^expect\.scheduler_exit of sched\/fault\.yaml: expected scheduler scx_fault of demo to exit with unreg, it exited with error_bpf\n/);
  });

  it('passes a match, and a scenario that expects nothing', () => {
    expect(schedulerExitGate('sched/fault.yaml', 'error_bpf', ran('error_bpf'))).toBeUndefined();
    expect(schedulerExitGate('sched/fault.yaml', undefined, ran('error_bpf'))).toBeUndefined();
  });

  it('fails a run without a scheduler', () => {
    expect(schedulerExitGate('x.yaml', 'unreg', result())).toContain('demo runs no scheduler');
  });
});

describe('describeRun', () => {
  it('shows hvc0 when the guest console is the virtio one', () => {
    const msg = failure(() => expect(result({ console: { com1: '', com2: '', hvc0: 'from hvc0' } })).toExitWith('Fatal'));
    expect(msg).toContain('console (hvc0, last 30 lines):\n  | from hvc0');
  });
});

describe('workload matchers', () => {
  const workload = parseWorkload(
    [
      'schedvm-wl: thread victim 0 cpu_ns=2000000000 rounds=1000 max_gap_ns=30000000',
      'schedvm-wl: thread victim 1 cpu_ns=1800000000 rounds=900 max_gap_ns=1500000000',
      'schedvm-wl: thread chat 0 cpu_ns=100000000 rounds=5000 max_gap_ns=2000000',
      'schedvm-wl: thread chat 1 cpu_ns=100000000 rounds=5000 max_gap_ns=2000000',
      'schedvm-wl: latency chat n=10000 kept=10000 p50_ns=20000 p99_ns=450000 max_ns=900000',
      'schedvm-wl: done elapsed_ns=5000000000',
    ].join('\n'),
    { victim: 'spin', chat: 'pingpong' },
  )!;
  const r = result({ workload });

  it('toHaveNoStarvation names the starved group and shows the thread table', () => {
    expect(r).toHaveNoStarvation({ maxGapMs: 2000 });
    expect(r).toHaveNoStarvation({ maxGapMs: 100, group: 'chat' });
    const msg = failure(() => expect(vmOf(r)).toHaveNoStarvation({ maxGapMs: 1000 }));
    expect(msg).toMatch(/max_gap_ms: group victim: longest gap without a round of work 1500 ms is above 1000 ms/);
    expect(msg).toMatch(/victim-1 +1800\.0/);
    expect(r).not.toHaveNoStarvation({ maxGapMs: 1000 });
  });

  it('toBeFair and toHaveWakeLatency gate their own measure', () => {
    expect(r).toBeFair({ spread: 0.2 });
    expect(failure(() => expect(r).toBeFair({ spread: 0.05, group: 'victim' }))).toMatch(/fairness_spread: group victim: CPU-time spread \(max\/min - 1\) 0\.111 is above 0\.05/);
    expect(r).toHaveWakeLatency({ p99BelowUs: 500 });
    expect(failure(() => expect(r).toHaveWakeLatency({ p99BelowUs: 400 }))).toMatch(/group chat: wake latency p99 450 us is above 400 us/);
  });

  it('says what is wrong with the question: no such group, no measure, no workload, a bad limit', () => {
    expect(failure(() => expect(r).toBeFair({ spread: 1, group: 'nope' }))).toMatch(/has no workload group 'nope' \(groups: victim, chat\)/);
    expect(failure(() => expect(r).toHaveWakeLatency({ p99BelowUs: 1, group: 'victim' }))).toMatch(/no group of demo is measured for wake_latency_p99_us \(victim\)/);
    expect(failure(() => expect(result()).toHaveNoStarvation({ maxGapMs: 1 }))).toMatch(/printed no measurements/);
    expect(failure(() => expect(r).toHaveNoStarvation({ maxGapMs: '5' as unknown as number }))).toMatch(/the limit must be a non-negative number, got 5/);
  });
});

// schedvm's matchers. Each takes the `vm` fixture (after its run) or a ScenarioResult; a failure
// explains itself with the exit reason, the console's tail and the register snapshots.
import { expect, Snapshots } from 'vitest';
import { baselineDomain, type BaselineTolerance } from './stored-baseline.ts';
import { SCHEDULER_EXIT_KINDS, type SchedulerExitKind } from './scenario/schema.ts';
import { checkGroupGate, GROUP_GATES, threadTable, workloadRunProblem, type GroupGateName } from './workload-gates.ts';
import type { ExitActionName, ScenarioResult, SchedVm, SnapshotRecord } from './types.ts';
import { describeRun, schedulerExitMismatch } from './gates.ts';
import { EXIT_ACTION_NAMES } from '../vmm/exit-actions.ts';
import { toGuestVirt, type GuestVirtAddr } from '../vmm/guest-address.ts';
import { symbolRange, type BareSymbols } from './guest-address.ts';

export interface SnapshotFilter {
  /** Only snapshots with this trigger (`api`, `timeout`, `fatal`, `watchpoint:<name>`, ...). */
  trigger?: string | RegExp;
  vcpu?: number;
}

export type AddressRange = { from: number | bigint; to: number | bigint };

export interface SchedvmMatchers<R = unknown> {
  /** The VM ended with this exit action. */
  toExitWith(action: ExitActionName): R;
  /** The watchpoint latched (use `.not` for a clean run). */
  toHaveLatched(watchpoint: string): R;
  /**
   * Some snapshot's ip is at `where`: a bare guest's symbol, a Linux kernel function (its
   * snapshots are symbolised from the guest's kallsyms), or an address range.
   */
  toHaveSnapshotAt(where: string | AddressRange, filter?: SnapshotFilter): R;
  /** The scenario's sched_ext scheduler exited with this kind (`unreg` for a clean stop, `error_stall`, ...). */
  toHaveSchedulerExit(kind: SchedulerExitKind): R;
  /** No workload thread (of `group`, or of any group) went longer than `maxGapMs` without a round of work. */
  toHaveNoStarvation(o: { maxGapMs: number; group?: string }): R;
  /** Within each group (or `group`), the largest thread CPU time over the smallest is at most 1 + `spread`. */
  toBeFair(o: { spread: number; group?: string }): R;
  /** The wake latency of pingpong and periodic groups (or `group`): p99 below `p99BelowUs`. */
  toHaveWakeLatency(o: { p99BelowUs: number; group?: string }): R;
  /**
   * The workload's figures are within `tolerance` of the baseline stored in this test file's
   * snapshot: written by the first run, compared after, replaced with `vitest -u`. With
   * `workload.baseline: default` the figures against the kernel's scheduler are compared (they
   * hold across machines), else the absolute ones.
   */
  toMatchBaseline(tolerance?: BaselineTolerance): R;
}

declare module 'vitest' {
  // biome-ignore lint/suspicious/noExplicitAny: vitest declares Matchers<T = any>; a merged declaration must match it
  interface Matchers<T = any> extends SchedvmMatchers<T> {}
}

interface Received {
  result: ScenarioResult;
  symbols: BareSymbols;
}

const hex = (n: number | bigint) => `0x${n.toString(16)}`;

function isResult(v: unknown): v is ScenarioResult {
  return typeof v === 'object' && v !== null && 'exitAction' in v && 'console' in v;
}
function isVm(v: unknown): v is SchedVm {
  return typeof v === 'object' && v !== null && 'run' in v && 'symbols' in v && 'state' in v;
}

/** The result under test, or why there is none. */
function received(v: unknown): Received | string {
  if (isResult(v)) return { result: v, symbols: {} };
  if (isVm(v)) {
    if (!v.result) return `the VM has not ended (it is ${v.state}): await vm.run() before asserting on how it ended`;
    return { result: v.result, symbols: v.symbols };
  }
  return `expected the vm fixture or a ScenarioResult, got ${typeof v === 'object' ? JSON.stringify(v)?.slice(0, 80) : String(v)}`;
}

function matchesFilter(s: SnapshotRecord, f: SnapshotFilter): boolean {
  if (f.vcpu !== undefined && s.vcpu !== f.vcpu) return false;
  if (f.trigger === undefined) return true;
  return typeof f.trigger === 'string' ? s.trigger === f.trigger : f.trigger.test(s.trigger);
}

/** A workload matcher: one group gate over the run's measurements, the thread table on failure. */
function workloadMatcher(isNot: boolean, actual: unknown, name: string, gate: GroupGateName, limit: unknown, group: string | undefined) {
  if (typeof limit !== 'number' || !Number.isFinite(limit) || limit < 0) return { pass: false, message: () => `${name}: the limit must be a non-negative number, got ${String(limit)}` };
  const got = received(actual);
  if (typeof got === 'string') return { pass: false, message: () => got };
  const r = got.result;
  const problem = workloadRunProblem(r.workload, undefined, r.workloadExit?.scenario);
  if (problem) return { pass: false, message: () => `${name}: ${r.scenario}: ${problem}\n\n${describeRun(r)}` };
  const w = r.workload!;
  if (group !== undefined && !w.groups.some((g) => g.name === group)) {
    return { pass: false, message: () => `${name}: ${r.scenario} has no workload group '${group}' (groups: ${w.groups.map((g) => g.name).join(', ')})` };
  }
  const applies = w.groups.filter((g) => (group === undefined || g.name === group) && g.kind !== 'command' && GROUP_GATES[gate].measure(g) !== undefined);
  if (applies.length === 0) return { pass: false, message: () => `${name}: no group of ${r.scenario} is measured for ${gate} (${group ?? 'any group'})` };
  const failures = checkGroupGate(w, gate, limit, group);
  return {
    pass: failures.length === 0,
    message: () =>
      `${
        isNot
          ? `expected ${r.scenario} to fail ${gate} <= ${limit}, but every group held: ${applies.map((g) => `${g.name} ${GROUP_GATES[gate].measure(g)}`).join(', ')}`
          : `${r.scenario}:\n${failures.map((f) => `  ${f.message}`).join('\n')}`
      }\n\n${threadTable(w)}`,
  };
}

expect.extend({
  toHaveNoStarvation(actual: unknown, o: { maxGapMs: number; group?: string }) {
    return workloadMatcher(this.isNot ?? false, actual, 'toHaveNoStarvation', 'max_gap_ms', o?.maxGapMs, o?.group);
  },

  toBeFair(actual: unknown, o: { spread: number; group?: string }) {
    return workloadMatcher(this.isNot ?? false, actual, 'toBeFair', 'fairness_spread', o?.spread, o?.group);
  },

  toHaveWakeLatency(actual: unknown, o: { p99BelowUs: number; group?: string }) {
    return workloadMatcher(this.isNot ?? false, actual, 'toHaveWakeLatency', 'wake_latency_p99_us', o?.p99BelowUs, o?.group);
  },

  toMatchBaseline(actual: unknown, tolerance: BaselineTolerance = {}) {
    const got = received(actual);
    if (typeof got === 'string') return { pass: false, message: () => got };
    const r = got.result;
    const problem = workloadRunProblem(r.workload, undefined, r.workloadExit?.scenario);
    if (problem) return { pass: false, message: () => `toMatchBaseline: ${r.scenario}: ${problem}\n\n${describeRun(r)}` };
    const domain = baselineDomain(tolerance);
    const res = Snapshots.toMatchDomainSnapshot.call(this, domain, { workload: r.workload, baseline: r.baseline });
    if (res instanceof Promise) throw new Error('toMatchBaseline: vitest matched the snapshot asynchronously (expect.poll is not supported)');
    return {
      ...res,
      message: () =>
        `${r.scenario} regressed against its stored baseline (accept this run with vitest -u):\n` +
        `${domain.regressions.map((x) => `  ${x}`).join('\n')}\n\n${threadTable(r.workload!)}\n\n${res.message()}`,
    };
  },

  toExitWith(actual: unknown, action: ExitActionName) {
    if (!(EXIT_ACTION_NAMES as readonly string[]).includes(action)) {
      return { pass: false, message: () => `toExitWith: '${String(action)}' is not an exit action (${EXIT_ACTION_NAMES.join(', ')})` };
    }
    const got = received(actual);
    if (typeof got === 'string') return { pass: false, message: () => got };
    const r = got.result;
    const pass = r.exitAction === action;
    return {
      pass,
      actual: r.exitAction,
      expected: action,
      message: () => `expected ${r.scenario} ${this.isNot ? 'not ' : ''}to exit with ${action}, it exited with ${r.exitAction}\n\n${describeRun(r)}`,
    };
  },

  toHaveLatched(actual: unknown, watchpoint: string) {
    const got = received(actual);
    if (typeof got === 'string') return { pass: false, message: () => got };
    const r = got.result;
    const w = r.watchpoints[watchpoint];
    if (!w) {
      const known = Object.keys(r.watchpoints);
      return { pass: this.isNot, message: () => `${r.scenario} has no watchpoint '${watchpoint}' (${known.length ? `known: ${known.join(', ')}` : 'it declares none'})` };
    }
    const how = w.hit ? `latched on vCPU ${w.vcpu} with value ${w.value} (slot ${w.slot})` : `did not latch (slot ${w.slot})`;
    return {
      pass: w.hit,
      message: () => `expected watchpoint '${watchpoint}' ${this.isNot ? 'not ' : ''}to latch; it ${how}\n\n${describeRun(r)}`,
    };
  },

  toHaveSchedulerExit(actual: unknown, kind: SchedulerExitKind) {
    if (!(SCHEDULER_EXIT_KINDS as readonly string[]).includes(kind)) {
      return { pass: false, message: () => `toHaveSchedulerExit: '${String(kind)}' is not an exit kind (${SCHEDULER_EXIT_KINDS.join(', ')})` };
    }
    const got = received(actual);
    if (typeof got === 'string') return { pass: false, message: () => got };
    const r = got.result;
    const mismatch = schedulerExitMismatch(r, kind);
    return {
      pass: mismatch === undefined && r.scheduler !== undefined,
      actual: r.scheduler?.exitKind,
      expected: kind,
      message: () => mismatch ?? `expected scheduler ${r.scheduler!.name} of ${r.scenario} not to exit with ${kind}\n\n${describeRun(r)}`,
    };
  },

  toHaveSnapshotAt(actual: unknown, where: string | AddressRange, filter: SnapshotFilter = {}) {
    const got = received(actual);
    if (typeof got === 'string') return { pass: false, message: () => got };
    const r = got.result;
    let range: { from: GuestVirtAddr; to: GuestVirtAddr } | undefined;
    let label: string;
    const kernelSymbolized = r.snapshots.some((s) => s.symbol !== undefined);
    if (typeof where === 'string' && kernelSymbolized && got.symbols[where] === undefined) {
      label = `kernel function ${where}`; // a Linux guest: its snapshots carry func+0x.. symbols
    } else if (typeof where === 'string') {
      const sym = symbolRange(got.symbols, where);
      if (typeof sym === 'string') return { pass: false, message: () => `toHaveSnapshotAt('${where}'): ${sym}` };
      range = { from: toGuestVirt(sym.from), to: toGuestVirt(sym.to) };
      label = `${where} [${hex(sym.from)}, ${hex(sym.to)})`;
    } else {
      range = { from: toGuestVirt(where.from), to: toGuestVirt(where.to) };
      label = `[${hex(where.from)}, ${hex(where.to)})`;
    }
    const candidates = r.snapshots.filter((s) => matchesFilter(s, filter));
    const inRange = candidates.filter((s) => {
      if (!range) return s.symbol?.startsWith(`${String(where)}+`) ?? false;
      const ip = BigInt(s.instruction_pointer);
      return ip >= range.from && ip < range.to;
    });
    const which = [filter.trigger !== undefined ? `trigger ${String(filter.trigger)}` : '', filter.vcpu !== undefined ? `vcpu ${filter.vcpu}` : ''].filter(Boolean).join(', ');
    return {
      pass: inRange.length > 0,
      message: () =>
        `expected ${this.isNot ? 'no' : 'a'} snapshot${which ? ` (${which})` : ''} with its ip in ${label}; ` +
        `${inRange.length} of ${candidates.length} matching snapshots are there\n\n${describeRun(r)}`,
    };
  },
});

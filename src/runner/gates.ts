// The CI gates over a finished run (expect.scheduler_exit, the workload, steps, the monitor)
// and the description of a run a failure prints: shared by the matchers, the environment's
// file gate and `schedvm run`, without vitest.
import type { Scenario, SchedulerExitKind } from './scenario/schema.ts';
import type { ScenarioResult } from './prepare.ts';
import { hasWorkloadGates, workloadGateMessage } from './workload-gates.ts';
import { stepsGate } from './steps.ts';
import { monitorGate } from './monitor/result.ts';

const CONSOLE_TAIL_LINES = 30;
/** Lines of a rejected program's verifier log a failure message shows (the whole log is in the result). */
const VERIFIER_TAIL_LINES = 20;

function tail(text: string, lines = CONSOLE_TAIL_LINES): string {
  const all = text.replace(/\n$/, '').split('\n');
  const shown = all
    .slice(-lines)
    .map((l) => `  | ${l}`)
    .join('\n');
  return all.length > lines ? `  | ... (${all.length - lines} earlier lines)\n${shown}` : shown;
}

/** What a failure prints about the VM: how it ended, where its vCPUs were, its console. */
export function describeRun(r: ScenarioResult): string {
  const why = r.fatalReason ?? r.bootStalled;
  const parts = [`exit: ${r.exitAction}${why ? ` (${why})` : ''} after ${r.wallMs.toFixed(0)} ms`];
  parts.push(r.snapshots.length > 0 ? `snapshots:\n${r.snapshots.map((s) => `  vcpu ${s.vcpu} [${s.trigger}] ${s.text}`).join('\n')}` : 'snapshots: none');
  // The guest console is hvc0 when the scenario says console: virtio.
  const [label, text] = !r.console.com1 && r.console.hvc0 ? ['hvc0', r.console.hvc0] : ['COM1', r.console.com1];
  parts.push(text ? `console (${label}, last ${CONSOLE_TAIL_LINES} lines):\n${tail(text)}` : `console (${label}): empty`);
  if (r.console.com2) parts.push(`console (COM2):\n${tail(r.console.com2, 10)}`);
  if (r.scheduler) parts.push(describeScheduler(r.scheduler));
  return parts.join('\n');
}

function describeScheduler(s: NonNullable<ScenarioResult['scheduler']>): string {
  const lines = [`scheduler ${s.name}: ${s.state}, exit kind ${s.exitKind}${s.reason ? ` (${s.reason})` : ''}${s.watchpointLatched ? ', exit-kind watchpoint latched' : ''}`];
  lines.push(`  ${s.exitKindWatch}`);
  if (s.progress) lines.push(`  workload rounds per thread: ${s.progress.join(' ')}`);
  if (s.verifier) {
    // The verifier's last lines say what it refused; the loader's own lines after it add nothing.
    lines.push(`  the BPF verifier rejected ${s.verifier.program} (${s.verifier.error}); its log ends:`);
    for (const l of s.verifier.log.slice(-VERIFIER_TAIL_LINES)) lines.push(`  | ${l}`);
    return lines.join('\n');
  }
  for (const l of [...s.dump.slice(-10), ...s.dmesg.slice(-5)]) lines.push(`  | ${l}`);
  return lines.join('\n');
}

/** The scheduler-exit failure text, shared by the matcher and the environment's gate. */
export function schedulerExitMismatch(r: ScenarioResult, kind: SchedulerExitKind): string | undefined {
  if (!r.scheduler) return `${r.scenario} runs no scheduler (add scheduler: to the scenario)`;
  if (r.scheduler.exitKind === kind) return undefined;
  return `expected scheduler ${r.scheduler.name} of ${r.scenario} to exit with ${kind}, it exited with ${r.scheduler.exitKind}\n\n${describeRun(r)}`;
}

/**
 * The CI gate's verdict on a finished run of `file` (its expect.scheduler_exit): why it fails,
 * or undefined when the scheduler exited as expected (or nothing is expected).
 */
export function schedulerExitGate(file: string, expected: SchedulerExitKind | undefined, r: ScenarioResult): string | undefined {
  if (expected === undefined) return undefined;
  const mismatch = schedulerExitMismatch(r, expected);
  return mismatch && `expect.scheduler_exit of ${file}: ${mismatch}`;
}

/** A workload shell must run, and exit 0: a program of it that failed fails the file, with the console's tail. */
export function workloadShellGate(file: string, s: Scenario, r: ScenarioResult): string | undefined {
  if (s.workload?.shell === undefined || !r.scheduler || r.scheduler.state !== 'enabled') return undefined;
  const status = r.scheduler.workloadExit;
  if (status === 0) return undefined;
  return `workload.shell of ${file} ${status === undefined ? 'never reported its exit status' : `exited with ${status}`}\n\n${describeRun(r)}`;
}

/**
 * The workload program must end well in every run that ended (a run the VM stopped first, at a
 * watchpoint, has no status): a crash or a group it could not set up fails the file, with the
 * console's tail, whether or not gates are declared.
 */
export function workloadProgramGate(file: string, r: ScenarioResult): string | undefined {
  const failed = Object.entries(r.workloadExit ?? {}).filter(([, status]) => status !== 0);
  if (failed.length === 0) return undefined;
  const runs = failed.map(([run, status]) => `${run === 'baseline' ? 'the baseline run (default scheduler)' : 'the scenario run'} exited with ${status}`);
  return `the workload program of ${file} failed: ${runs.join('; ')} (its error is in the console)\n\n${describeRun(r)}`;
}

/** Whether `s` declares a CI gate: expect.scheduler_exit, workload groups or gates, or a workload shell. */
export function hasScenarioGates(s: Scenario): boolean {
  return (
    s.expect.scheduler_exit !== undefined || hasWorkloadGates(s) || s.workload?.groups !== undefined || s.workload?.shell !== undefined || (s.steps?.length ?? 0) > 0 || s.expect.monitor !== undefined
  );
}

/** Every CI gate of `s` on a finished run of `file`: why it fails, or undefined when all hold. */
export function scenarioGate(file: string, s: Scenario, r: ScenarioResult): string | undefined {
  const failures = scenarioGateFailures(file, s, r);
  return failures.length ? failures.join('\n\n') : undefined;
}

/** Each failing gate's message (its first paragraph names the gate; details may follow a blank line). */
export function scenarioGateFailures(file: string, s: Scenario, r: ScenarioResult): string[] {
  return [
    schedulerExitGate(file, s.expect.scheduler_exit, r),
    // Gates over a failed program's measurements would only repeat its failure.
    workloadProgramGate(file, r) ?? workloadGateMessage(file, s, r.workload, r.baseline?.workload),
    workloadShellGate(file, s, r),
    stepsGate(file, r.steps),
    monitorGate(file, s.expect.monitor, r.monitor),
  ].filter((f) => f !== undefined);
}

// `schedvm run <scenario.yaml> [--entry NAME] [--json] [--timeout S] [--timeline FILE]`: boot one scenario
// (or one entry of a gauntlet), console live.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { UserError } from '../errors.ts';
import { loadScenario } from '../runner/scenario/load.ts';
import { gauntletOf, isGauntlet } from '../runner/scenario/gauntlet.ts';
import type { Scenario } from '../runner/scenario/schema.ts';
import { runScenario } from '../runner/run-scenario.ts';
import { threadTable } from '../runner/workload-gates.ts';
import { scenarioGateFailures } from '../runner/gates.ts';
import { writeFileSync } from 'node:fs';
import { ratioTable } from '../runner/baseline.ts';
import { bigintAsHex, resultTimeline } from '../runner/artifacts.ts';
import { shouldUseSandbox } from '../sandbox/index.ts';
import { runWithKvmPrepared } from './with-kvm.ts';

const BIN = fileURLToPath(new URL('../../bin/schedvm.mjs', import.meta.url));

export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: 'boolean' }, entry: { type: 'string' }, timeout: { type: 'string' }, timeline: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help || positionals.length !== 1) {
    process.stderr.write('usage: schedvm run <scenario.yaml> [--entry NAME] [--json] [--timeout S] [--timeline FILE.svg]\n');
    return values.help ? 0 : 2;
  }
  const file = positionals[0]!;
  const scenario = gauntletEntry(file, loadScenario(file), values.entry);
  const timeoutS = values.timeout === undefined ? scenario.timeout_s : Number(values.timeout);
  if (!(timeoutS > 0)) throw new UserError(`--timeout: expected a positive number of seconds, got '${values.timeout}'`);
  if (values.timeline !== undefined && !scenario.monitor) throw new UserError(`--timeline: ${file} has no monitor to draw it from: add monitor: {} to the scenario`);

  // No KVM here: run this same command where there is one (the sandbox).
  if (shouldUseSandbox()) return runWithKvmPrepared([process.execPath, BIN, 'run', ...args]);

  let atLineStart = true;
  // Ctrl-C stops a running VM (the result still prints); before it runs, the default applies.
  let stopVm: (() => void) | undefined;
  let result: Awaited<ReturnType<typeof runScenario>>;
  try {
    result = await runScenario(scenario, {
      timeoutMs: timeoutS * 1000,
      onPrepared: (prepared) => {
        for (const w of prepared.warnings) process.stderr.write(`schedvm: warning: ${w}\n`);
      },
      onStarted: (vm) => {
        stopVm = () => vm.stop();
        process.once('SIGINT', stopVm);
        process.once('SIGTERM', stopVm);
      },
      onConsole: (port, text) => {
        const shown = port === 'com2' ? text.replace(/^(?=.)/gm, '[com2] ') : text; // COM1 or hvc0: the guest console
        process.stdout.write(shown);
        atLineStart = shown.endsWith('\n');
      },
    });
  } finally {
    if (stopVm) {
      process.off('SIGINT', stopVm);
      process.off('SIGTERM', stopVm);
    }
  }
  if (!atLineStart) process.stdout.write('\n');
  const wantKind = scenario.expect.scheduler_exit;
  const schedOk = wantKind === undefined || result.scheduler?.exitKind === wantKind;
  // Every CI gate the test environment applies: exit kind, workload, steps, monitor.
  const failures = scenarioGateFailures(file, scenario, result);
  const pass = result.exitAction === scenario.expect.exit_action && !result.panic && failures.length === 0;
  if (result.panic) process.stderr.write(`schedvm: the guest kernel panicked: ${result.panic}\n`);
  if (result.bootStalled) process.stderr.write(`schedvm: the boot stalled: ${result.bootStalled}\n`);
  if (result.scheduler) {
    const s = result.scheduler;
    process.stderr.write(
      `schedvm: scheduler ${s.name}: ${s.state}, exit kind ${s.exitKind}${s.reason ? ` (${s.reason})` : ''}` +
        `${wantKind !== undefined ? `, expected ${wantKind}: ${schedOk ? 'pass' : 'FAIL'}` : ''}\n`,
    );
  }
  const say = (text: string) => process.stderr.write(`schedvm: ${text.replace(/\n/g, '\nschedvm: ')}\n`);
  if (result.baseline) say(`baseline (the kernel's default scheduler), ${threadTable(result.baseline.workload)}`);
  if (result.workload) say(threadTable(result.workload));
  if (result.baseline?.ratios) say(ratioTable(result.baseline.ratios));
  for (const f of failures) say(`FAIL ${f.split('\n\n')[0]}`);
  process.stderr.write(
    `schedvm: ${scenario.name}: ${result.exitAction}${result.fatalReason ? ` (${result.fatalReason})` : ''} after ` +
      `${result.wallMs.toFixed(0)} ms${result.bootMs !== undefined ? ` (init after ${result.bootMs.toFixed(0)} ms)` : ''}, expected ${scenario.expect.exit_action}: ${pass ? 'pass' : 'FAIL'}\n`,
  );
  if (values.timeline !== undefined) {
    const svg = resultTimeline(result);
    if (svg) {
      writeFileSync(values.timeline, svg);
      say(`timeline (${result.monitor!.samples} samples) written to ${values.timeline}`);
    } else say(`no timeline: the monitor took no samples${result.monitor?.note ? ` (${result.monitor.note})` : ''}`);
  }
  if (values.json) process.stdout.write(`${JSON.stringify(result, bigintAsHex)}\n`);
  return pass ? 0 : 1;
}

/** The one VM `run` boots: the scenario, or the gauntlet entry `--entry` names. */
export function gauntletEntry(file: string, scenario: Scenario, entry: string | undefined): Scenario {
  const entries = gauntletOf(scenario);
  if (!isGauntlet(scenario)) {
    if (entry !== undefined) throw new UserError(`--entry: ${file} is no gauntlet (kernels or topologies): leave --entry out`);
    return scenario;
  }
  const names = entries.map((e) => e.name).join(', ');
  if (entry === undefined) throw new UserError(`${file} is a gauntlet of ${entries.length} VMs (${names}): pick one with --entry <name>, or run them all with vitest and gauntlet()`);
  const found = entries.find((e) => e.name === entry);
  if (!found) throw new UserError(`--entry: ${file} has no entry '${entry}': expected one of ${names}`);
  return found.scenario;
}

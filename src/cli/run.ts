// `schedvm run <scenario.yaml> [--json] [--timeout S]`: boot one scenario, console live.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { UserError } from '../errors.ts';
import { buildGuest } from '../fixtures/guests/build.ts';
import { loadScenario } from '../runner/scenario/load.ts';
import { resolveWatchMechanism } from '../runner/watch-mechanism.ts';
import { kvmUsable, runWithKvm, sandboxMode } from '../sandbox/index.ts';
import { Vm, type VmResult } from '../vmm/vm.ts';

const BIN = fileURLToPath(new URL('../../bin/schedvm.mjs', import.meta.url));

export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: 'boolean' }, timeout: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help || positionals.length !== 1) {
    process.stderr.write('usage: schedvm run <scenario.yaml> [--json] [--timeout S]\n');
    return values.help ? 0 : 2;
  }
  const file = positionals[0]!;
  const scenario = loadScenario(file);
  const timeoutS = values.timeout === undefined ? scenario.timeout_s : Number(values.timeout);
  if (!(timeoutS > 0)) throw new UserError(`--timeout: expected a positive number of seconds, got '${values.timeout}'`);

  // No KVM here: run this same command where there is one (the sandbox).
  const mode = sandboxMode();
  if (process.env.SCHEDVM_IN_SANDBOX !== '1' && (mode === 'force' || (mode === 'auto' && !kvmUsable()))) {
    return runWithKvm([process.execPath, BIN, 'run', ...args]);
  }

  const image = await buildGuest(scenario.guest);
  let atLineStart = true;
  const vm = await Vm.create({
    vcpus: scenario.vcpus,
    memoryMb: scenario.memory_mb,
    guest: { kind: 'bare', image, ...(scenario.guest_arg !== undefined ? { arg: scenario.guest_arg } : {}) },
    timeoutMs: timeoutS * 1000,
    watchpoints: scenario.watchpoints,
    ...(scenario.watchpoints.length > 0 ? { watchMechanism: await resolveWatchMechanism() } : {}),
    onConsole: (port, text) => {
      const shown = port === 'com1' ? text : text.replace(/^(?=.)/gm, '[com2] ');
      process.stdout.write(shown);
      atLineStart = shown.endsWith('\n');
    },
  });
  const onSignal = () => vm.stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let result: VmResult;
  try {
    result = await vm.run();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (!atLineStart) process.stdout.write('\n');
  const pass = result.exitAction === scenario.expect.exit_action;
  process.stderr.write(
    `schedvm: ${scenario.name}: ${result.exitAction}${result.fatalReason ? ` (${result.fatalReason})` : ''} after ` +
      `${result.wallMs.toFixed(0)} ms, expected ${scenario.expect.exit_action}: ${pass ? 'pass' : 'FAIL'}\n`,
  );
  if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  return pass ? 0 : 1;
}

// A failed test leaves its VM's console and result in a folder of its own, for CI to keep:
// <artifacts>/<test file>/<test name>/{console.log,com2.log,hvc0.log,result.json,timeline.svg,errors.txt}.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { ScenarioResult, SchedVm } from './types.ts';
import { timelineSvg } from './monitor/timeline.ts';

const safe = (name: string) =>
  name
    .replace(/[^\w.-]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 120) || '_';

export function artifactDir(root: string, testFile: string, testName: string): string {
  const file = relative(process.cwd(), testFile);
  return resolve(root, ...file.split(/[\\/]/).map(safe), safe(testName));
}

/** JSON.stringify's replacer for results: bigints (watchpoint values and addresses) as hex strings. */
export const bigintAsHex = (_k: string, v: unknown): unknown => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v);

/** JSON with bigints as hex strings, indented. */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, bigintAsHex, 2)}\n`;
}

/** The per-CPU timeline of a run the monitor watched, its steps marked; undefined without samples. */
export function resultTimeline(r: ScenarioResult): string | undefined {
  if (!r.monitor?.trace.length) return undefined;
  const marks = (r.steps ?? []).flatMap((st) => (st.monitorMs !== undefined ? [{ atMs: st.monitorMs, label: `${st.index}: ${st.kind}${st.ok ? '' : ' (failed)'}` }] : []));
  return timelineSvg(r.monitor.trace, marks, `${r.scenario}: per-CPU timeline`);
}

/** Writes the VM's console, result (or state so far) and the test's errors; returns the folder. */
export function writeArtifacts(dir: string, vm: SchedVm, errors: string[]): string {
  mkdirSync(dir, { recursive: true });
  const console = vm.console;
  writeFileSync(join(dir, 'console.log'), console.com1);
  // The other ports only when used: COM2 by guests that write there, hvc0 by console: virtio.
  if (console.com2) writeFileSync(join(dir, 'com2.log'), console.com2);
  if (console.hvc0) writeFileSync(join(dir, 'hvc0.log'), console.hvc0);
  const result = vm.result ?? { state: vm.state, scenario: vm.scenario.name, snapshots: vm.snapshots };
  writeFileSync(join(dir, 'result.json'), toJson({ ...result, scenarioFile: vm.file }));
  const timeline = vm.result && resultTimeline(vm.result);
  if (timeline) writeFileSync(join(dir, 'timeline.svg'), timeline);
  if (errors.length > 0) writeFileSync(join(dir, 'errors.txt'), `${errors.join('\n\n')}\n`);
  return dir;
}

/**
 * Called from a failed test: writes each VM it touched (one folder, or one subfolder per
 * scenario when there are several) and prints where. Never fails the run itself.
 */
export function saveFailureArtifacts(root: string, test: { file: string; name: string }, vms: SchedVm[], errors: unknown[]): void {
  if (vms.length === 0) return;
  const dir = artifactDir(root, test.file, test.name);
  try {
    rmSync(dir, { recursive: true, force: true });
    const texts = errors.map(errorText);
    vms.forEach((vm, i) => {
      writeArtifacts(vms.length === 1 ? dir : join(dir, `${i + 1}-${safe(vm.scenario.name)}`), vm, texts);
    });
    process.stderr.write(`schedvm: artifacts of failed test "${test.name}": ${relative(process.cwd(), dir)}\n`);
  } catch (e) {
    process.stderr.write(`schedvm: could not write the artifacts of "${test.name}": ${(e as Error).message}\n`);
  }
}

function errorText(e: unknown): string {
  const err = e as { message?: string; stack?: string };
  return err?.stack ?? err?.message ?? String(e);
}

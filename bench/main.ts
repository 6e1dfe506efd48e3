// `npm run bench`: runs every case where it can run, writes bench/report.{md,json} and the
// README's table. Bare-metal cases run on whatever /dev/kvm opens here (a software KVM
// included: both sides see the same one); Linux cases need hardware KVM, so without one they
// run inside the sandbox, in a child of this script that hands its results back in a file.
// usage: node --import tsx bench/main.ts [--runs N] [--only id,...] (ids: bench/cases/index.ts) [--phase bare|linux --out FILE]
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cacheDir } from '../src/fixtures/cache.ts';
import { kvmUsable } from '../src/sandbox/detect.ts';
import { shutdownVcpuPool } from '../src/vmm/vcpu/pool.ts';
import { CASES, type Phase } from './cases/index.ts';
import { describeEnvironment, type Environment } from './environment.ts';
import { mergeReports, readReport, unreached, writeReport, type Report } from './report.ts';
import type { CaseResult } from './stats.ts';

interface PhaseResult {
  environment: Environment;
  cases: CaseResult[];
  skipped: Report['skipped'];
}

const { values: args } = parseArgs({
  options: { runs: { type: 'string', default: '5' }, only: { type: 'string' }, phase: { type: 'string' }, out: { type: 'string' } },
});
const runs = Number(args.runs);
const only = args.only?.split(',');
const unknown = only?.filter((id) => !CASES.some((c) => c.id === id)) ?? [];
if (unknown.length) {
  process.stderr.write(`bench: --only: no case ${unknown.join(', ')}; the cases are ${CASES.map((c) => c.id).join(', ')}\n`);
  process.exit(2);
}
const selected = (id: string) => !only || only.includes(id);

async function runPhase(phase: Phase, save?: (r: PhaseResult) => void): Promise<PhaseResult> {
  const environment = describeEnvironment();
  const out: PhaseResult = { environment, cases: [], skipped: [] };
  for (const c of CASES.filter((c) => c.phase === phase && selected(c.id))) {
    process.stderr.write(`bench: ${c.id} (${environment.where})\n`);
    try {
      out.cases.push(...(await c.run(runs, environment.where)).map((r) => ({ ...r, caseId: c.id })));
    } catch (e) {
      process.stderr.write(`bench: ${c.id} failed: ${(e as Error).stack}\n`);
      out.skipped.push({ name: c.id, reason: `failed: ${(e as Error).message.split('\n')[0]}` });
    }
    save?.(out); // what is done survives a phase stopped later
  }
  await shutdownVcpuPool();
  return out;
}

function devKvmOpens(): boolean {
  try {
    closeSync(openSync('/dev/kvm', 'r+'));
    return true;
  } catch {
    return false;
  }
}

/** The phase in the sandbox: this script again, under `schedvm sandbox --force`, output live. */
async function inSandbox(phase: Phase): Promise<PhaseResult> {
  const file = join(cacheDir('bench'), `phase-${phase}.json`);
  writeFileSync(file, '');
  const cli = fileURLToPath(new URL('../bin/schedvm.mjs', import.meta.url));
  const self = fileURLToPath(import.meta.url);
  const child = spawn(
    process.execPath,
    [cli, 'sandbox', '--force', '--', process.execPath, '--import', 'tsx', self, '--phase', phase, '--out', file, '--runs', String(runs), ...(args.only ? ['--only', args.only] : [])],
    { stdio: 'inherit' },
  );
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const saved = readFileSync(file, 'utf8');
  if (!saved) throw new Error(`sandbox phase ${phase} exited ${code} before any case finished`);
  const result = JSON.parse(saved) as PhaseResult;
  if (code !== 0) {
    const ids = CASES.filter((c) => c.phase === phase && selected(c.id)).map((c) => c.id);
    result.skipped.push(...unreached(ids, result, `the sandbox exited ${code} before it`));
  }
  return result;
}

if (args.phase) {
  await runPhase(args.phase as Phase, (r) => writeFileSync(args.out!, JSON.stringify(r)));
} else {
  const phases: PhaseResult[] = [];
  if (CASES.some((c) => c.phase === 'bare' && selected(c.id))) phases.push(devKvmOpens() ? await runPhase('bare') : await inSandbox('bare'));
  if (CASES.some((c) => c.phase === 'linux' && selected(c.id))) phases.push(kvmUsable() ? await runPhase('linux') : await inSandbox('linux'));
  if (CASES.some((c) => c.phase === 'sandbox' && selected(c.id))) phases.push(await runPhase('sandbox'));
  const report: Report = { generatedAt: new Date().toISOString(), environments: {}, cases: [], skipped: [] };
  for (const p of phases) {
    report.environments[p.environment.where] = p.environment;
    report.cases.push(...p.cases);
    report.skipped.push(...p.skipped);
  }
  writeReport(mergeReports(readReport(), report));
  process.stderr.write(`bench: wrote bench/report.md and bench/report.json\n`);
}

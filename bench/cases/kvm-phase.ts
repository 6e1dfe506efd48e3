// Case kvm-phase: the wall time of `schedvm test`'s kvm+examples phase in the sandbox, with the
// files split across two sandbox VMs at once against all of them in one (SCHEDVM_SANDBOX_VMS).
// The figure is the phase's own, from schedvm test's closing line (the unit+host phase before
// it is not counted); the note tallies VM starts and stalls. Runs on the host: schedvm test
// starts its sandboxes itself. One run of each side takes 15-25 min on 2 cores.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseSandboxSummary, type PhaseSummary } from '../../src/cli/phase-summary.ts';
import { caseResult, interleave, type CaseResult } from '../stats.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEV = fileURLToPath(new URL('../../scripts/dev.mjs', import.meta.url));

interface PhaseRun extends PhaseSummary {
  passed: boolean;
}

function phaseOnce(vms: number): Promise<PhaseRun> {
  const child = spawn(process.execPath, [DEV, 'test'], { cwd: ROOT, env: { ...process.env, SCHEDVM_SANDBOX_VMS: String(vms) }, stdio: ['ignore', 'ignore', 'pipe'] });
  let tail = '';
  child.stderr.on('data', (b: Buffer) => {
    tail = (tail + b.toString()).slice(-4096);
    process.stderr.write(b);
  });
  return new Promise((resolve, reject) =>
    child.on('close', (code) => {
      const figures = parseSandboxSummary(tail);
      if (!figures) reject(new Error(`schedvm test with ${vms} sandbox VMs printed no kvm phase figures (exit ${code}); is /dev/kvm missing here?`));
      else resolve({ ...figures, passed: code === 0 });
    }),
  );
}

function tally(label: string, rs: PhaseRun[]): string {
  const sum = (f: (r: PhaseRun) => number) => rs.reduce((n, r) => n + f(r), 0);
  return `${label}: ${rs.filter((r) => r.passed).length}/${rs.length} passed, ${sum((r) => r.starts)} VM starts, ${sum((r) => r.stalls)} sandbox stalls, ${sum((r) => r.bootStalls)} guest boot stalls`;
}

export async function kvmPhase(n: number): Promise<CaseResult[]> {
  const { ours, reference } = await interleave(
    n,
    () => phaseOnce(2),
    () => phaseOnce(1),
  );
  return [
    caseResult({
      name: "kvm phase: `schedvm test`'s kvm+examples files in 2 sandbox VMs at once, wall",
      unit: 's',
      environment: 'sandbox',
      ours: ours.map((r) => r.seconds),
      reference: { name: 'the same files in one sandbox VM', samples: reference.map((r) => r.seconds) },
      note: `${tally('2 VMs', ours)}; ${tally('1 VM', reference)}`,
    }),
  ];
}

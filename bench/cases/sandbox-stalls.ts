// Case sandbox-stalls: how often the sandbox VM stalls under the guest that stalled it most (a
// 16-vCPU Debian sched_ext boot), each boot in a fresh sandbox as a user's `schedvm run` would
// be, first with this host idle, then with one core kept busy. Runs on the host: it starts the
// sandboxes itself. A stall's report (see src/sandbox/stall-report.ts) is named in the note.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { caseResult, type CaseResult } from '../stats.ts';

const CLI = fileURLToPath(new URL('../../bin/schedvm.mjs', import.meta.url));
const SCENARIO = fileURLToPath(new URL('../scenarios/stall-16.yaml', import.meta.url));

interface Boot {
  ms: number;
  stalled: boolean;
  passed: boolean;
  report?: string;
}

function bootOnce(): Promise<Boot> {
  const t0 = Date.now();
  const child = spawn(process.execPath, [CLI, 'sandbox', '--force', '--', process.execPath, CLI, 'run', SCENARIO, '--json'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => {
    stderr += b.toString();
    process.stderr.write(b);
  });
  return new Promise((resolve) =>
    child.on('close', (code) => {
      const report = /what it was doing: (\S+)/.exec(stderr)?.[1];
      resolve({ ms: Date.now() - t0, stalled: stderr.includes('the sandbox VM stopped responding'), passed: code === 0, ...(report ? { report } : {}) });
    }),
  );
}

async function boots(n: number, busy: boolean): Promise<Boot[]> {
  // One core's worth of CPU load beside the sandbox, as a CI neighbour would be.
  const load = busy ? spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }) : undefined;
  try {
    const out: Boot[] = [];
    for (let i = 0; i < n; i++) {
      const b = await bootOnce();
      process.stderr.write(`bench: sandbox-stalls: ${busy ? 'busy' : 'idle'} host, boot ${i + 1}/${n}: ${b.stalled ? 'STALLED' : b.passed ? 'passed' : 'FAILED'} in ${b.ms} ms\n`);
      out.push(b);
    }
    return out;
  } finally {
    load?.kill('SIGKILL');
  }
}

function tally(label: string, bs: Boot[]): string {
  const stalls = bs.filter((b) => b.stalled).length;
  const failed = bs.filter((b) => !b.stalled && !b.passed).length;
  const per = stalls === 0 ? `no stall in ${bs.length} boots` : `${(bs.length / stalls).toFixed(1)} boots per stall`;
  const reports = bs.flatMap((b) => (b.report ? [b.report] : []));
  return `${label}: ${stalls} stalls and ${failed} other failures in ${bs.length} boots (${per})${reports.length ? `; reports: ${reports.join(', ')}` : ''}`;
}

export async function sandboxStalls(n: number): Promise<CaseResult[]> {
  const idle = await boots(n, false);
  const busy = await boots(n, true);
  const walls = (bs: Boot[]) => (bs.some((b) => b.passed) ? bs.filter((b) => b.passed) : bs).map((b) => b.ms);
  return [
    caseResult({
      name: 'sandbox: `schedvm run` of a 16-vCPU sched_ext boot (2n4l2c2t) in a fresh sandbox, one host core busy',
      unit: 'ms',
      environment: 'sandbox',
      ours: walls(busy),
      reference: { name: 'the same boots, host idle', samples: walls(idle) },
      note: `${tally('idle host', idle)}; ${tally('one core busy', busy)}`,
    }),
  ];
}

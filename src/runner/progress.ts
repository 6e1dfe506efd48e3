// The progress file of `schedvm test` (SCHEDVM_PROGRESS_FILE), shared by the host and the
// sandbox over 9p: the slow reporter appends each test file's verdict, and a test worker whose
// Linux guest stalled before /init appends a note, so that the run is ended and the sandbox restarted.
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';

const VERDICT_LINE = /^(passed|failed|skipped) (.+)$/;
const STALL_PREFIX = 'boot-stalled ';
const TOOK_LINE = /^took (\d+) (.+)$/;

/** Appends and fsyncs: the file may sit on the sandbox's 9p share, read by the host. */
export function appendDurably(path: string, line: string): void {
  const fd = openSync(path, 'a');
  try {
    writeSync(fd, line);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The progress file when this process runs under `schedvm test` inside the sandbox: the runs it may end early. */
export function sandboxProgressFile(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.SCHEDVM_IN_SANDBOX === '1' && env.SCHEDVM_PROGRESS_FILE ? env.SCHEDVM_PROGRESS_FILE : undefined;
}

/** Each test file's last verdict (`passed|failed|skipped <file>` lines); other lines are ignored. */
export function readProgress(text: string): Map<string, string> {
  const ended = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = VERDICT_LINE.exec(line);
    if (m) ended.set(m[2]!, m[1]!);
  }
  return ended;
}

/** The verdict line of a test file that ended, and how long it ran (for balancing sandbox VMs). */
export function verdictLines(state: string, file: string, ms: number): string {
  return `${state} ${file}\ntook ${Math.round(ms)} ${file}\n`;
}

/** Each test file's last `took <ms> <file>` line. */
export function readDurations(text: string): Map<string, number> {
  const took = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = TOOK_LINE.exec(line);
    if (m) took.set(m[2]!, Number(m[1]));
  }
  return took;
}

/** Files whose last verdict in the progress text is `failed`. */
export function failedFiles(text: string): string[] {
  return [...readProgress(text)].filter(([, state]) => state === 'failed').map(([file]) => file);
}

/** A stalled boot: its scenario and, when it could be read, where the guest stood. */
export interface BootStall {
  scenario: string;
  where?: string;
}

/** The boots that stalled, in the order noted. */
export function bootStalls(text: string): BootStall[] {
  return text.split('\n').flatMap((l) => {
    if (!l.startsWith(STALL_PREFIX)) return [];
    const [scenario, where] = l.slice(STALL_PREFIX.length).split('\t');
    return [where ? { scenario: scenario!, where } : { scenario: scenario! }];
  });
}

/**
 * Notes a stalled boot for the slow reporter, under `schedvm test` in the sandbox only: there a
 * Linux guest stalled before /init most likely means the nested emulation wedged (the README's
 * troubleshooting); once seen in CI, every guest after it in the same sandbox VM stalled too.
 * `where` (the console's last line, each vCPU's registers) goes into the log with it, since the
 * run ends before the test reports its own failure.
 */
export function noteBootStall(scenario: string, where?: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const progress = sandboxProgressFile(env);
  if (!progress) return false;
  const line = (t: string) => t.replace(/\s+/g, ' ').trim();
  appendDurably(progress, `${STALL_PREFIX}${line(scenario)}${where ? `\t${line(where)}` : ''}\n`);
  return true;
}

export function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

// A vitest reporter for long KVM runs: every minute it names the test files that have been
// running for over two minutes, and the test (or hook) each is in. A hung guest or a stuck
// freeze then shows up in a CI log's tail, before a CI time limit kills the run unexplained.
import { childPids, threadStates } from './thread-states.ts';
import { relative } from 'node:path';
import type { Reporter, TestCase, TestModule } from 'vitest/node';
import { appendDurably, bootStalls, readOrEmpty, sandboxProgressFile, verdictLines } from './progress.ts';

export interface SlowReporterOptions {
  /** A file counts as slow after this long. */
  afterMs?: number;
  /** How often slow files are listed. */
  everyMs?: number;
  write?: (line: string) => void;
  /**
   * Under schedvm test in the sandbox (SCHEDVM_PROGRESS_FILE set): a file with no news this long
   * (no test started or ended) is past every test and hook timeout, so its worker no longer
   * answers (a nested guest can wedge it; a worker blocked before it reports its first test
   * shows no test at all). The file is recorded as failed and `onHung` ends this vitest run;
   * schedvm test then runs the files not ended in a fresh sandbox, and the failed ones once
   * more. Default 1200 s.
   */
  hungMs?: number;
  /**
   * Ends this vitest run (default: kills it and its workers). Also called, under schedvm test in
   * the sandbox, when a test worker notes a Linux guest's stalled boot in the progress file (see
   * progress.ts): the guests after it in this sandbox VM would most likely stall too, so
   * schedvm test restarts the sandbox for the files not ended.
   */
  onHung?: () => void;
  /** Where the workers are stuck, written before onHung (default: every thread of each child process, from /proc). */
  stuckThreads?: () => string[];
}

export default class SlowTestReporter implements Reporter {
  private readonly modules = new Map<string, number>();
  /** When each running file last reported a test starting or ending. */
  private readonly lastNews = new Map<string, number>();
  private readonly cases = new Map<string, { module: string; name: string; since: number }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly afterMs: number;
  private readonly everyMs: number;
  private readonly write: (line: string) => void;
  private readonly hungMs: number;
  private readonly onHung: () => void;
  private readonly stuckThreads: () => string[];
  /** Boot stalls already in the progress file when this run started (an earlier sandbox's). */
  private stallsBefore = 0;

  constructor(o: SlowReporterOptions = {}) {
    this.afterMs = o.afterMs ?? 120_000;
    this.everyMs = o.everyMs ?? 60_000;
    this.write = o.write ?? ((line) => process.stderr.write(`${line}\n`));
    this.hungMs = o.hungMs ?? 1_200_000;
    this.onHung = o.onHung ?? endRun;
    this.stuckThreads = o.stuckThreads ?? (() => childPids().flatMap(threadStates));
  }

  onTestRunStart(): void {
    const progress = process.env.SCHEDVM_PROGRESS_FILE;
    this.stallsBefore = progress ? bootStalls(readOrEmpty(progress)).length : 0;
    clearInterval(this.timer);
    this.timer = setInterval(() => this.report(Date.now()), this.everyMs);
    this.timer.unref();
  }

  onTestModuleStart(m: TestModule): void {
    this.modules.set(m.moduleId, Date.now());
    this.lastNews.set(m.moduleId, Date.now());
  }

  onTestModuleEnd(m: TestModule): void {
    const started = this.modules.get(m.moduleId) ?? Date.now();
    this.modules.delete(m.moduleId);
    this.lastNews.delete(m.moduleId);
    const progress = process.env.SCHEDVM_PROGRESS_FILE;
    if (!progress) return;
    appendDurably(progress, verdictLines(m.state(), m.moduleId, Date.now() - started));
    // Under schedvm test a stalled sandbox is killed before vitest's closing summary: say why
    // this file failed now.
    for (const t of m.children.allTests('failed')) {
      const first = t.result().errors?.[0];
      this.write(`schedvm: FAILED ${relative(process.cwd(), m.moduleId)} > ${t.fullName}: ${(first?.message ?? 'no error recorded').split('\n').slice(0, 12).join('\n')}`);
    }
    for (const [id, c] of this.cases) if (c.module === m.moduleId) this.cases.delete(id);
  }

  onTestCaseReady(c: TestCase): void {
    this.cases.set(c.id, { module: c.module.moduleId, name: c.fullName, since: Date.now() });
    this.lastNews.set(c.module.moduleId, Date.now());
  }

  onTestCaseResult(c: TestCase): void {
    this.cases.delete(c.id);
    if (this.modules.has(c.module.moduleId)) this.lastNews.set(c.module.moduleId, Date.now());
  }

  onTestRunEnd(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Lines for the files running longer than afterMs at `now` (also printed). */
  report(now: number): string[] {
    const lines: string[] = [];
    for (const [module, since] of this.modules) {
      if (now - since < this.afterMs) continue;
      const running = [...this.cases.values()].filter((c) => c.module === module);
      const where = running.length > 0 ? running.map((c) => `in "${c.name}" for ${Math.round((now - c.since) / 1000)} s`).join('; ') : 'in its hooks or before its first test';
      lines.push(`schedvm: still running after ${Math.round((now - since) / 1000)} s: ${relative(process.cwd(), module)}, ${where}`);
    }
    for (const l of lines) this.write(l);
    this.endIfHung(now);
    this.endIfBootStalled();
    return lines;
  }

  private endIfBootStalled(): void {
    const progress = sandboxProgressFile();
    if (!progress) return;
    const stalls = bootStalls(readOrEmpty(progress)).slice(this.stallsBefore);
    if (stalls.length === 0) return;
    const running = [...this.modules.keys()].map((m) => relative(process.cwd(), m));
    this.write(
      `schedvm: STALLED boot of ${stalls.map((b) => (b.where ? `${b.scenario} (${b.where})` : b.scenario)).join(', ')}: no /init within its boot_timeout_s. The nested emulation of this sandbox VM has most likely wedged, ` +
        `and the guests after it would stall too: this run ends here${running.length ? `, with ${running.join(', ')} not ended` : ''}`,
    );
    this.onHung();
  }

  private endIfHung(now: number): void {
    const progress = sandboxProgressFile();
    if (!progress) return;
    const hung = [...this.lastNews].find(([, at]) => now - at >= this.hungMs);
    if (!hung) return;
    const [module, at] = hung;
    const test = [...this.cases.values()].find((c) => c.module === module);
    appendDurably(progress, `failed ${module}\n`);
    this.write(
      `schedvm: HUNG ${relative(process.cwd(), module)} > ${test ? test.name : '(no test reported: its hooks, or before its first test)'}: ` +
        `no news for ${Math.round((now - at) / 1000)} s, past every timeout, so its worker no longer answers; the file counts as failed and this run ends here`,
    );
    // Where each worker is stuck (the syscall and kernel wait of every thread): the evidence a
    // root cause needs, before the workers are killed.
    for (const line of this.stuckThreads()) this.write(`schedvm: HUNG ${line}`);
    this.onHung();
  }
}

/**
 * Ends vitest and its workers at once: a wedged worker would otherwise keep the sandbox's
 * console pipe open after vitest itself has gone (the VM then powers off with the rest).
 */
function endRun(): never {
  for (const pid of childPids()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  process.exit(1);
}

// A stored baseline: the workload's figures of an accepted run, kept in the test file's vitest
// snapshot and compared within tolerances (a regression fails; `vitest -u` accepts the new run).
// This module is the snapshot domain (capture, render, parse, match); the matcher
// toMatchBaseline hands it to vitest's snapshot machinery.
import { round3, type WorkloadResult } from '../fixtures/workload/metrics.ts';
import { meanCpuBusy, type WorkloadBaseline } from './baseline.ts';

export interface BaselineTolerance {
  /** A group's rounds of work may fall by this share (default 0.3). */
  rounds?: number;
  /** A group's longest gap may grow to this multiple (default 3). */
  gap?: number;
  /** A group's wake latency p99 may grow to this multiple (default 3). */
  latency?: number;
  /** The CPUs' mean busy share may fall by this much (default 0.1). */
  cpuBusy?: number;
}

const DEFAULT_TOLERANCE: Required<BaselineTolerance> = { rounds: 0.3, gap: 3, latency: 3, cpuBusy: 0.1 };

/** Rates and extremes of one group; `vs*`: against the default scheduler in the same VM, when the scenario ran a baseline. */
export interface StoredGroup {
  name: string;
  roundsPerS: number;
  maxGapMs: number;
  wakeP99Us?: number;
  vsRounds?: number;
  vsMaxGap?: number;
  vsWakeP99?: number;
}

export interface StoredBaseline {
  cpuBusy: number;
  vsCpuBusy?: number;
  groups: StoredGroup[];
}

export function captureBaseline(w: WorkloadResult, base?: WorkloadBaseline): StoredBaseline {
  const ratios = base?.ratios;
  const seconds = w.durationMs / 1000;
  const cpuBusy = round3(meanCpuBusy(w));
  return {
    cpuBusy,
    ...(ratios ? { vsCpuBusy: ratios.cpuBusy } : {}),
    groups: w.groups.map((g) => {
      const r = ratios?.groups.find((x) => x.name === g.name);
      return {
        name: g.name,
        roundsPerS: round3(seconds > 0 ? g.rounds / seconds : 0),
        maxGapMs: g.maxGapMs,
        ...(g.wakeLatency ? { wakeP99Us: g.wakeLatency.p99Us } : {}),
        ...(r ? { vsRounds: r.rounds, vsMaxGap: r.maxGap, ...(r.wakeLatencyP99 !== undefined ? { vsWakeP99: r.wakeLatencyP99 } : {}) } : {}),
      };
    }),
  };
}

// One line per fact, `key=value` words: readable in the .snap file and in a diff.
const GROUP_KEYS: Array<[keyof StoredGroup, string]> = [
  ['roundsPerS', 'rounds_per_s'],
  ['maxGapMs', 'max_gap_ms'],
  ['wakeP99Us', 'wake_p99_us'],
  ['vsRounds', 'vs_default_rounds'],
  ['vsMaxGap', 'vs_default_max_gap'],
  ['vsWakeP99', 'vs_default_wake_p99'],
];

export function renderBaseline(b: StoredBaseline): string {
  const cpu = `cpu busy=${b.cpuBusy}${b.vsCpuBusy !== undefined ? ` vs_default=${b.vsCpuBusy}` : ''}`;
  const groups = b.groups.map((g) => `group ${g.name} ${GROUP_KEYS.flatMap(([k, word]) => (g[k] !== undefined ? [`${word}=${g[k]}`] : [])).join(' ')}`);
  return [cpu, ...groups].join('\n');
}

export function parseBaseline(text: string): StoredBaseline {
  const out: StoredBaseline = { cpuBusy: NaN, groups: [] };
  for (const line of text.trim().split('\n')) {
    const [what, name = '', ...words] = line.trim().split(/\s+/);
    const f = new Map(words.map((w) => w.split('=') as [string, string]));
    if (what === 'cpu') {
      const [, busy = ''] = name.split('=');
      out.cpuBusy = Number(busy);
      if (f.has('vs_default')) out.vsCpuBusy = Number(f.get('vs_default'));
    } else if (what === 'group') {
      const g: Record<string, unknown> = { name };
      for (const [k, word] of GROUP_KEYS) if (f.has(word)) g[k] = Number(f.get(word));
      out.groups.push(g as unknown as StoredGroup);
    }
  }
  return out;
}

/**
 * The regressions of `now` against the stored `then`, within `tol`. Figures against the default
 * scheduler are compared when both runs have them (they hold across machines); otherwise the
 * absolute ones (which hold on the machine that stored them).
 */
export function baselineRegressions(now: StoredBaseline, then: StoredBaseline, tolerance: BaselineTolerance = {}): string[] {
  const tol = { ...DEFAULT_TOLERANCE, ...tolerance };
  const out: string[] = [];
  const atLeast = (what: string, got: number | undefined, was: number | undefined, floor: number) => {
    if (got !== undefined && was !== undefined && got < floor) out.push(`${what} ${got} is below ${round3(floor)} (stored ${was})`);
  };
  const atMost = (what: string, got: number | undefined, was: number | undefined, ceiling: number) => {
    if (got !== undefined && was !== undefined && got > ceiling) out.push(`${what} ${got} is above ${round3(ceiling)} (stored ${was})`);
  };
  const names = (b: StoredBaseline) => b.groups.map((g) => g.name).join(', ');
  if (names(now) !== names(then)) out.push(`the groups changed: ${names(now)} (stored: ${names(then)}); accept with vitest -u`);
  const relative = now.vsCpuBusy !== undefined && then.vsCpuBusy !== undefined;
  if (relative) atLeast('CPU busy against the default scheduler', now.vsCpuBusy, then.vsCpuBusy, then.vsCpuBusy! - tol.cpuBusy);
  else atLeast('CPU busy', now.cpuBusy, then.cpuBusy, then.cpuBusy - tol.cpuBusy);
  for (const was of then.groups) {
    const got = now.groups.find((g) => g.name === was.name);
    if (!got) continue;
    const g = `group ${was.name}:`;
    if (relative && got.vsRounds !== undefined && was.vsRounds !== undefined) {
      atLeast(`${g} rounds against the default scheduler`, got.vsRounds, was.vsRounds, was.vsRounds * (1 - tol.rounds));
      atMost(`${g} longest gap against the default scheduler`, got.vsMaxGap, was.vsMaxGap, (was.vsMaxGap ?? 0) * tol.gap);
      atMost(`${g} wake latency p99 against the default scheduler`, got.vsWakeP99, was.vsWakeP99, (was.vsWakeP99 ?? 0) * tol.latency);
    } else {
      atLeast(`${g} rounds per second`, got.roundsPerS, was.roundsPerS, was.roundsPerS * (1 - tol.rounds));
      atMost(`${g} longest gap (ms)`, got.maxGapMs, was.maxGapMs, was.maxGapMs * tol.gap);
      atMost(`${g} wake latency p99 (us)`, got.wakeP99Us, was.wakeP99Us, (was.wakeP99Us ?? 0) * tol.latency);
    }
  }
  return out;
}

/** vitest's snapshot domain adapter (Snapshots.toMatchDomainSnapshot), with the last match's regressions. */
export interface BaselineDomain {
  name: string;
  capture(received: unknown): StoredBaseline;
  render(b: StoredBaseline): string;
  parseExpected(text: string): StoredBaseline;
  match(now: StoredBaseline, then: StoredBaseline): { pass: boolean; message?: string; resolved?: string };
  /** The regressions of the last match (for the matcher's message). */
  regressions: string[];
}

/** The snapshot domain for one assertion; `received` is the scenario result's `{ workload, baseline }`. */
export function baselineDomain(tolerance: BaselineTolerance = {}): BaselineDomain {
  const domain: BaselineDomain = {
    name: 'schedvm-baseline',
    regressions: [],
    capture: (r) => {
      const { workload, baseline } = r as { workload: WorkloadResult; baseline?: WorkloadBaseline };
      return captureBaseline(workload, baseline);
    },
    render: renderBaseline,
    parseExpected: parseBaseline,
    match: (now, then) => {
      domain.regressions = baselineRegressions(now, then, tolerance);
      const pass = domain.regressions.length === 0;
      // Within tolerance the stored run stands (a diff would only show noise).
      return { pass, ...(pass ? { resolved: renderBaseline(then) } : {}), message: domain.regressions.join('\n') };
    },
  };
  return domain;
}

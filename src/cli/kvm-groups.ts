// `schedvm test` in the sandbox runs the kvm and examples files in several sandbox VMs at once
// (one TCG vCPU each, so one host core each): the files are split into groups of about equal
// run time, by the durations the last runs recorded, longest first onto the least loaded VM.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import { cacheDir, writeFileDurably } from '../fixtures/cache.ts';

/** A file never timed counts as this long (ms): most kvm files take tens of seconds in the sandbox. */
const UNKNOWN_MS = 60_000;

/** SCHEDVM_SANDBOX_VMS: how many sandbox VMs run test files at once (default: the host's cores, at most 2). */
export function sandboxVms(env: NodeJS.ProcessEnv = process.env, cores = availableParallelism()): number {
  const raw = env.SCHEDVM_SANDBOX_VMS;
  if (raw === undefined || raw === '') return Math.max(1, Math.min(2, cores));
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > cores) throw new UserError(`SCHEDVM_SANDBOX_VMS='${raw}': expected a whole number from 1 to ${cores} (this host's cores)`);
  return n;
}

/** Splits `files` into at most `n` non-empty groups of balanced total duration; keeps each group in the given order. */
export function balancedGroups(files: string[], durationOf: (file: string) => number | undefined, n: number): string[][] {
  const weight = (f: string) => durationOf(f) ?? UNKNOWN_MS;
  const bins = Array.from({ length: Math.min(n, files.length) }, () => ({ total: 0, files: new Set<string>() }));
  for (const f of [...files].sort((a, b) => weight(b) - weight(a))) {
    const bin = bins.reduce((min, b) => (b.total < min.total ? b : min));
    bin.total += weight(f);
    bin.files.add(f);
  }
  return bins.map((b) => files.filter((f) => b.files.has(f)));
}

const DURATIONS_FILE = () => join(cacheDir('test'), 'durations.json');

/**
 * Run times of the repository's own kvm files in the sandbox (AMD EPYC host, 2026-12-03), for
 * a cold cache; what this machine recorded wins.
 */
const MEASURED = createRequire(import.meta.url)('./kvm-durations.json') as Record<string, number>;

export function loadDurations(): Map<string, number> {
  return new Map([...Object.entries(MEASURED), ...recorded()]);
}

/** What this machine recorded (none yet: empty). */
function recorded(): Map<string, number> {
  try {
    return new Map(Object.entries(JSON.parse(readFileSync(DURATIONS_FILE(), 'utf8')) as Record<string, number>));
  } catch {
    return new Map();
  }
}

/** Merges fresh durations into the cache. */
export function saveDurations(fresh: Map<string, number>): void {
  if (fresh.size === 0) return;
  const all = recorded();
  for (const [f, ms] of fresh) all.set(f, ms);
  writeFileDurably(DURATIONS_FILE(), `${JSON.stringify(Object.fromEntries(all), null, 1)}\n`);
}

// Summaries and the report's record types. Every figure is a list of measured samples.

export interface Figure {
  median: number;
  min: number;
  max: number;
  runs: number;
}

export type Where = 'host' | 'sandbox';

export interface CaseResult {
  name: string;
  unit: string;
  /** Where it was measured: this machine's /dev/kvm, or inside the sandbox VM. */
  environment: Where;
  ours: Figure;
  reference: Figure & { name: string };
  /** ours / reference: below 1 means schedvm is faster (or smaller). */
  ratio: number;
  note?: string;
  /** When it was measured (ISO), where a report merges runs of different cases. */
  measuredAt?: string;
  /** The bench case (its --only id) that measured this row. */
  caseId?: string;
}

export function summarize(samples: number[]): Figure {
  if (samples.length === 0) throw new Error('no samples');
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]!, runs: s.length };
}

export function caseResult(c: { name: string; unit: string; environment: Where; ours: number[]; reference: { name: string; samples: number[] }; note?: string }): CaseResult {
  const ours = summarize(c.ours);
  const reference = { name: c.reference.name, ...summarize(c.reference.samples) };
  return {
    name: c.name,
    unit: c.unit,
    environment: c.environment,
    ours,
    reference,
    ratio: ours.median / reference.median,
    ...(c.note ? { note: c.note } : {}),
  };
}

/**
 * Runs `ours` and `reference` `rounds` times each, alternating which goes first, so slow
 * drifts on a shared machine (other jobs, thermal) hit both sides alike.
 */
export async function interleave<T>(rounds: number, ours: () => Promise<T>, reference: () => Promise<T>): Promise<{ ours: T[]; reference: T[] }> {
  const out = { ours: [] as T[], reference: [] as T[] };
  for (let i = 0; i < rounds; i++) {
    if (i % 2 === 0) {
      out.ours.push(await ours());
      out.reference.push(await reference());
    } else {
      out.reference.push(await reference());
      out.ours.push(await ours());
    }
  }
  return out;
}

// zod's issues as one problem per mistake in a scenario: an unknown key gets a did-you-mean
// (also inside list items and union-typed fields), a union failure speaks of the option the
// value was meant for, and a misspelled field's echoes (it is "missing") are dropped.
import type { z } from 'zod';
import { scenarioSchema } from './schema.ts';

type Issue = z.core.$ZodIssue;

export interface FieldIssue {
  path: PropertyKey[];
  message: string;
  /** Located at the key (an unknown field) rather than at its value. */
  atKey: boolean;
}

interface SchemaDef {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
  shape?: Record<string, z.ZodType>;
}

const defOf = (s: z.ZodType) => (s as unknown as { def: SchemaDef }).def;

/** What a value is checked against: optional/default/pipe peeled off, a union as its options. */
function alternatives(schema: z.ZodType): z.ZodType[] {
  const def = defOf(schema);
  const inner = def.innerType ?? def.in;
  if (inner) return alternatives(inner);
  return def.options ? def.options.flatMap(alternatives) : [schema];
}

/** The alternatives of the scenario schema at a data path (list indexes step into items). */
function schemasAt(path: readonly PropertyKey[]): z.ZodType[] {
  let at: z.ZodType[] = [scenarioSchema];
  for (const key of path) {
    at = at.flatMap(alternatives).flatMap((s) => {
      const def = defOf(s);
      const next = typeof key === 'number' ? def.element : def.shape?.[String(key)];
      return next ? [next] : [];
    });
  }
  return at.flatMap(alternatives);
}

/** The field names the schema allows in the mapping at `path`. */
export function knownKeys(path: readonly PropertyKey[]): string[] {
  return [...new Set(schemasAt(path).flatMap((s) => Object.keys(defOf(s).shape ?? {})))];
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** The known field `key` is most likely a typo of, if one is close enough. */
function closest(key: string, known: string[]): string | undefined {
  const lower = key.toLowerCase();
  const best = known.map((k) => ({ k, d: k.startsWith(lower) ? 1 : editDistance(lower, k.toLowerCase()) })).sort((x, y) => x.d - y.d)[0];
  return best && best.d <= Math.max(2, Math.floor(key.length / 3)) ? best.k : undefined;
}

function unknownKeyMessage(meant: string | undefined, known: string[]): string {
  if (meant !== undefined) return `unknown field (did you mean '${meant}'?)`;
  return known.length > 0 ? `unknown field (allowed: ${known.join(', ')})` : 'unknown field';
}

function describeOption(s: z.ZodType): string {
  const keys = Object.keys(defOf(s).shape ?? {});
  if (keys.length > 0) return `a mapping with ${keys.join(', ')}`;
  return s.description ?? `a ${defOf(s).type}`;
}

/**
 * A union failure as the issues of the one option the value's type fits (the others fail at
 * their root with invalid_type), or, when none or several fit, what the options are.
 */
function expand(issue: Issue, prefix: PropertyKey[] = []): Issue[] {
  const path = [...prefix, ...issue.path];
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return [{ ...issue, path }];
  const fitting = issue.errors.filter((errs) => !errs.some((e) => e.code === 'invalid_type' && e.path.length === 0));
  if (fitting.length === 1) return fitting[0]!.flatMap((e) => expand(e, path));
  return [{ ...issue, path, message: `expected ${schemasAt(path).map(describeOption).join(', or ')}` }];
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let v = data;
  for (const key of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[key] : undefined;
  return v;
}

const samePath = (a: readonly PropertyKey[], b: readonly PropertyKey[]) => a.length === b.length && a.every((k, i) => k === b[i]);

/** The problems of `data` (the merged scenario), one per mistake, each with its field path. */
export function fieldIssues(issues: readonly Issue[], data: unknown): FieldIssue[] {
  const expanded = issues.flatMap((i) => expand(i));
  const unknowns = expanded.flatMap((issue) => {
    if (issue.code !== 'unrecognized_keys') return [];
    const known = knownKeys(issue.path);
    return issue.keys.map((key) => ({ at: issue.path, key, known, meant: closest(key, known) }));
  });
  // A typo of a field leaves that field missing, which trips "required" and the mapping's own
  // checks: echoes of the typo, not mistakes of their own.
  const echoes = unknowns.filter((u) => u.meant !== undefined && valueAt(data, [...u.at, u.meant]) === undefined).flatMap((u) => [u.at, [...u.at, u.meant!]]);
  return expanded.flatMap((issue): FieldIssue[] => {
    if (issue.code === 'unrecognized_keys') {
      return unknowns.filter((u) => u.at === issue.path).map((u) => ({ path: [...u.at, u.key], message: unknownKeyMessage(u.meant, u.known), atKey: true }));
    }
    return echoes.some((e) => samePath(e, issue.path)) ? [] : [{ path: issue.path, message: issue.message, atKey: false }];
  });
}

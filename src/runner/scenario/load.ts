// Reads scenario YAML, validates it, and reports every problem as file:line:column + field path.
import { readFileSync } from 'node:fs';
import { isMap, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { UserError } from '../../errors.ts';
import { scenarioSchema, type Scenario } from './schema.ts';

export interface ScenarioProblem {
  file: string;
  line: number;
  column: number;
  path: string;
  message: string;
}

export class ScenarioError extends UserError {
  constructor(readonly problems: ScenarioProblem[]) {
    super(problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.path ? `${p.path}: ` : ''}${p.message}`).join('\n'));
    this.name = 'ScenarioError';
  }
}

function locate(doc: Document, lc: LineCounter, path: PropertyKey[], atKey = false): { line: number; column: number } {
  // The deepest node that exists on the path; for a missing key, its parent map.
  let node: unknown = doc.contents;
  let range = (doc.contents as { range?: [number, number, number] } | null)?.range;
  type Ranged = { range?: [number, number, number] } | null;
  for (const key of path) {
    if (isSeq(node) && typeof key === 'number') {
      node = node.items[key];
      range = (node as Ranged)?.range ?? range;
      continue;
    }
    if (!isMap(node)) break;
    const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === key);
    if (!pair) break;
    const keyRange = (pair.key as { range?: [number, number, number] }).range;
    node = pair.value;
    range = atKey && key === path.at(-1) ? keyRange : ((pair.value as { range?: [number, number, number] } | null)?.range ?? keyRange);
  }
  const pos = lc.linePos(range?.[0] ?? 0);
  return { line: pos.line, column: pos.col };
}

/** The field names the schema allows at `path` (for did-you-mean). */
function knownKeys(path: PropertyKey[]): string[] {
  let schema: z.ZodType = scenarioSchema;
  for (const key of [...path, undefined]) {
    for (;;) {
      const def = (schema as { def?: { innerType?: z.ZodType; in?: z.ZodType } }).def;
      const inner = def?.innerType ?? def?.in; // unwrap default/optional/pipe
      if (!inner) break;
      schema = inner;
    }
    const shape = (schema as { shape?: Record<string, z.ZodType> }).shape;
    if (!shape) return [];
    if (key === undefined) return Object.keys(shape);
    const next = shape[String(key)];
    if (!next) return [];
    schema = next;
  }
  return [];
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

function unknownKeyMessage(key: string, known: string[]): string {
  const lower = key.toLowerCase();
  const best = known
    .map((k) => ({ k, d: k.startsWith(lower) ? 1 : editDistance(lower, k.toLowerCase()) }))
    .sort((x, y) => x.d - y.d)[0];
  const hint = best && best.d <= Math.max(2, Math.floor(key.length / 3)) ? `did you mean '${best.k}'?` : `allowed: ${known.join(', ')}`;
  return `unknown field (${hint})`;
}

/** Parses and validates scenario text; `file` names it in errors. */
export function parseScenario(text: string, file: string): Scenario {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ScenarioError(doc.errors.map((e) => {
      const pos = lc.linePos(e.pos[0]);
      return { file, line: pos.line, column: pos.col, path: '', message: `YAML: ${e.message.split('\n')[0]}` };
    }));
  }
  const data: unknown = doc.toJS();
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new ScenarioError([{ file, line: 1, column: 1, path: '', message: 'a scenario must be a YAML mapping (key: value lines)' }]);
  }
  const parsed = scenarioSchema.safeParse(data);
  if (parsed.success) return parsed.data;
  throw new ScenarioError(parsed.error.issues.flatMap((issue): ScenarioProblem[] => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => {
        const path = [...issue.path, key];
        return { file, ...locate(doc, lc, path, true), path: path.join('.'), message: unknownKeyMessage(key, knownKeys(issue.path)) };
      });
    }
    return [{ file, ...locate(doc, lc, issue.path), path: issue.path.join('.'), message: issue.message }];
  }));
}

export function loadScenario(file: string): Scenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read scenario ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseScenario(text, file);
}

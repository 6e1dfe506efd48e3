// Reads scenario YAML, validates it, and reports every problem as file:line:column + field path.
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { UserError } from '../../errors.ts';
import { fieldIssues } from './issues.ts';
import { scenarioSchema, type Scenario } from './schema.ts';
import type { KernelSpec } from '../../fixtures/kernels/resolve.ts';

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

/** One file of an `extends` chain, parsed. */
interface Source {
  file: string;
  doc: Document;
  lc: LineCounter;
  data: Record<string, unknown>;
}

type Ranged = { range?: [number, number, number] } | null;

/** Walks `path` in a document: the deepest node found, its range, and how many keys matched. */
function walk(doc: Document, path: PropertyKey[], atKey = false): { range?: [number, number, number]; depth: number } {
  let node: unknown = doc.contents;
  let range = (doc.contents as Ranged)?.range;
  let depth = 0;
  for (const key of path) {
    if (isSeq(node) && typeof key === 'number' && node.items[key] !== undefined) {
      node = node.items[key];
      range = (node as Ranged)?.range ?? range;
      depth++;
      continue;
    }
    if (!isMap(node)) break;
    const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === key);
    if (!pair) break;
    const keyRange = (pair.key as Ranged)?.range;
    node = pair.value;
    range = atKey && depth === path.length - 1 ? keyRange : ((pair.value as Ranged)?.range ?? keyRange);
    depth++;
  }
  return range ? { range, depth } : { depth };
}

/**
 * Where the problem at `path` was written: the file of the chain holding most of that path
 * (the extending file wins ties), for a missing field the mapping that lacks it.
 */
function locate(chain: Source[], path: PropertyKey[], atKey = false): { file: string; line: number; column: number } {
  let best = { source: chain[0]!, found: walk(chain[0]!.doc, path, atKey) };
  for (const source of chain.slice(1)) {
    const found = walk(source.doc, path, atKey);
    if (found.depth > best.found.depth) best = { source, found };
  }
  const pos = best.source.lc.linePos(best.found.range?.[0] ?? 0);
  return { file: best.source.file, line: pos.line, column: pos.col };
}

/** Parses one file of a chain (its YAML, not yet the schema). */
function parseSource(text: string, file: string): Source {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ScenarioError(
      doc.errors.map((e) => {
        const pos = lc.linePos(e.pos[0]);
        return { file, line: pos.line, column: pos.col, path: '', message: `YAML: ${e.message.split('\n')[0]}` };
      }),
    );
  }
  const data: unknown = doc.toJS();
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new ScenarioError([{ file, line: 1, column: 1, path: '', message: 'a scenario must be a YAML mapping (key: value lines)' }]);
  }
  return { file, doc, lc, data: data as Record<string, unknown> };
}

/** The file and every file it extends, the extending one first. */
function readChain(text: string, file: string, seen: string[] = []): Source[] {
  const source = parseSource(text, file);
  const base = source.data.extends;
  if (base === undefined) return [source];
  const fail = (message: string): never => {
    throw new ScenarioError([{ ...locate([source], ['extends']), path: 'extends', message }]);
  };
  if (typeof base !== 'string' || base === '') return fail('expected the path of another scenario file (relative to this one)');
  const baseFile = isAbsolute(base) ? base : join(dirname(file), base);
  const chain = [...seen, resolve(file)];
  if (chain.includes(resolve(baseFile))) {
    const names = [...chain.slice(chain.indexOf(resolve(baseFile))), resolve(baseFile)].map((f) => relative(process.cwd(), f) || f);
    return fail(`extends a cycle: ${names.join(' -> ')}`);
  }
  let baseText: string;
  try {
    baseText = readFileSync(baseFile, 'utf8');
  } catch (e) {
    return fail(`cannot read ${baseFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return [source, ...readChain(baseText, baseFile, chain)];
}

const isMapping = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** `over` on top of `base`: mappings merge key by key, anything else replaces. */
function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isMapping(b) && isMapping(v) ? merge(b, v) : v;
  }
  return out;
}

/**
 * Top-level fields that are alternatives to each other: a file that gives one drops the others it
 * extends (a gauntlet's `topologies` over a one-VM scenario's `topology` or `vcpus`, `kernels` over `kernel`). A guest and
 * a kernel are not: a Linux scenario over a bare one is an error.
 */
const ALTERNATIVES = [
  ['topology', 'topologies', 'vcpus'],
  ['kernel', 'kernels'],
];

/** An extending file over what it extends: `merge`, after dropping the alternatives it replaces. */
function overlay(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const keys of ALTERNATIVES.filter((ks) => ks.some((k) => k in over))) for (const k of keys) if (!(k in over)) delete out[k];
  return merge(out, over);
}

/** Parses and validates scenario text; `file` names it in errors and anchors `extends`. */
export function parseScenario(text: string, file: string): Scenario {
  const chain = readChain(text, file);
  const data = chain.reduceRight<Record<string, unknown>>((acc, s) => overlay(acc, s.data), {});
  delete data.extends; // resolved: the result stands alone
  const parsed = scenarioSchema.safeParse(data);
  if (parsed.success) return resolveHostFiles(parsed.data, chain);
  throw new ScenarioError(fieldIssues(parsed.error.issues, data).map((i) => ({ ...locate(chain, i.path, i.atKey), path: i.path.join('.'), message: i.message })));
}

/**
 * A file (or directory) named in the scenario, made absolute (relative to the file of the chain
 * that names it); a problem when it is missing or of the other kind.
 */
function hostFile(chain: Source[], field: PropertyKey[], value: string, what: string, hint: string, problems: ScenarioProblem[], kind: 'file' | 'directory' = 'file'): string {
  const where = locate(chain, field);
  const path = isAbsolute(value) ? value : resolve(dirname(where.file), value);
  let problem: string | undefined;
  try {
    const st = statSync(path);
    if (kind === 'file' ? !st.isFile() : !st.isDirectory()) problem = `${path} is not a ${kind === 'file' ? 'regular file' : 'directory'} (${hint})`;
  } catch (e) {
    problem = `cannot use ${path} as ${what}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
  }
  if (problem) problems.push({ ...where, path: field.join('.'), message: problem });
  return path;
}

/** Where Debian ships the programs scheduler tests reach for. */
const DEBIAN_PROGRAMS: Record<string, string> = { 'stress-ng': 'stress-ng', hackbench: 'rt-tests', cyclictest: 'rt-tests', sysbench: 'sysbench', perf: 'linux-perf' };

/** `name` found on this host's PATH (an executable regular file), or undefined. */
function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      if (statSync(path).isFile()) return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Disk images, a scheduler binary and workload programs, made absolute and checked. */
function resolveHostFiles(s: Scenario, chain: Source[]): Scenario {
  const problems: ScenarioProblem[] = [];
  let out = s;
  if (s.devices?.blk.length) {
    const blk = s.devices.blk.map((disk, i) => ({ ...disk, path: hostFile(chain, ['devices', 'blk', i, 'path'], disk.path, 'a disk image', 'a disk image, e.g. from mkfs.ext4 -d', problems) }));
    out = { ...out, devices: { ...s.devices, blk } };
  }
  const buildTree = (k: KernelSpec, field: PropertyKey[]): KernelSpec =>
    typeof k === 'string' ? k : { build: hostFile(chain, [...field, 'build'], k.build, 'a kernel build tree', 'the directory make ran in, or its O=', problems, 'directory') };
  if (s.kernel !== undefined) out = { ...out, kernel: buildTree(s.kernel, ['kernel']) };
  if (s.kernels) out = { ...out, kernels: s.kernels.map((k, i) => buildTree(k, ['kernels', i])) };
  if (s.scheduler?.binary !== undefined) {
    out = { ...out, scheduler: { ...s.scheduler, binary: hostFile(chain, ['scheduler', 'binary'], s.scheduler.binary, 'a scheduler loader', 'an executable sched_ext loader', problems) } };
  }
  if (s.workload?.programs?.length) {
    const programs = s.workload.programs.map((p, i) => {
      const field = ['workload', 'programs', i];
      if (p.includes('/')) return hostFile(chain, field, p, 'a program', 'an executable', problems);
      const found = onPath(p);
      if (!found)
        problems.push({ ...locate(chain, field), path: field.join('.'), message: `${p} is not on this host's PATH${DEBIAN_PROGRAMS[p] ? ` (Debian: apt-get install ${DEBIAN_PROGRAMS[p]})` : ''}` });
      return found ?? p;
    });
    out = { ...out, workload: { ...out.workload!, programs } };
  }
  if (problems.length > 0) throw new ScenarioError(problems);
  return out;
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

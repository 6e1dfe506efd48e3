// The broken-scenario corpus: each file makes one distinct mistake and must get one located
// message (file:line:column: field.path: what is wrong), never a stack trace.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario, ScenarioError } from './load.ts';

const DIR = join(import.meta.dirname, 'testdata/broken');
const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

function messageOf(file: string): string {
  try {
    loadScenario(file);
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioError);
    return (e as Error).message;
  }
  throw new Error(`${file} loaded without an error`);
}

/** Each file's first line: `# expect <field.path>: <part of the message>`. */
function expectationOf(file: string): { path: string; text: string } {
  const m = /^# expect ([\w.]+): ?(.*)$/m.exec(readFileSync(file, 'utf8').split('\n')[0]!);
  if (!m) throw new Error(`${file}: first line must be '# expect <field.path>: <text>'`);
  return { path: m[1]!, text: m[2]! };
}

describe('broken-scenario corpus', () => {
  const messages = new Map(files.map((f) => [f, messageOf(relative(process.cwd(), join(DIR, f)))]));

  it('has at least 30 distinct mistakes', () => {
    expect(files.length).toBeGreaterThanOrEqual(30);
  });

  it.each(files)('%s: one located message naming the field', (f) => {
    const msg = messages.get(f)!;
    const { path, text } = expectationOf(join(DIR, f));
    const lines = msg.split('\n');
    expect(lines.length, msg).toBe(1);
    const m = /^(\S+\.yaml):(\d+):(\d+): ([\w.]+): (.+)$/.exec(lines[0]!);
    expect(m, msg).not.toBeNull();
    expect(m![4], msg).toBe(path);
    expect(m![5], msg).toContain(text);
    expect(Number(m![2])).toBeGreaterThan(1); // past the `# expect` comment: the real spot
    expect(msg).not.toMatch(/\n\s+at /);
  });

  it('gives every mistake its own message', () => {
    const bodies = [...messages].map(([f, msg]) => msg.replace(/^\S+?:\d+:\d+: /, '').replaceAll(f, ''));
    expect(new Set(bodies).size).toBe(files.length);
  });

  it('reports a broken base at its own file and line', () => {
    expect(messages.get('extends-broken-base.yaml')).toMatch(/bases\/fractional-memory\.yaml:3:12: memory_mb: /);
  });

  it('names the files of an extends cycle in order', () => {
    expect(messages.get('extends-cycle.yaml')).toMatch(/extends a cycle: \S*extends-cycle\.yaml -> \S*bases\/cycle-back\.yaml -> \S*extends-cycle\.yaml$/);
  });
});

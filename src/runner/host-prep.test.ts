import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { prepareScenariosOnHost, scenariosOfCommand } from './host-prep.ts';

// Built, not written: vitest reads such docblocks in this very file.
const OPTIONS = ['@vitest-environment', 'options'].join('-');
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'schedvm-host-prep-'));
  const put = (rel: string, text: string) => {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
  };
  put('scenarios/a.yaml', 'name: a\nguest: hello\nvcpus: 1\nmemory_mb: 64\ntimeout_s: 10\n');
  put('scenarios/b.yaml', 'name: b\nguest: hello\nvcpus: 1\nmemory_mb: 64\ntimeout_s: 10\n');
  put('examples/a.test.ts', `// ${OPTIONS} {"scenario": "scenarios/a.yaml"}\n`);
  put('examples/b.test.ts', `// ${OPTIONS} {"scenario": "scenarios/b.yaml", "timeout": 5}\n`);
  put('examples/plain.test.ts', 'import { test } from "vitest";\n');
  put('examples/broken.test.ts', `// ${OPTIONS} {scenario: nope}\n`);
  put('node_modules/x/c.test.ts', `// ${OPTIONS} {"scenario": "scenarios/b.yaml"}\n`);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('scenariosOfCommand', () => {
  test('takes the scenario files a schedvm run names', () => {
    expect(scenariosOfCommand(['node', 'schedvm.mjs', 'run', 'scenarios/b.yaml', '--json'], dir)).toEqual([join(dir, 'scenarios/b.yaml')]);
  });

  test("a vitest run: the docblock scenarios of the files its filters match (vitest's substring filters)", () => {
    expect(scenariosOfCommand(['npx', 'vitest', 'run', 'examples/a.test.ts'], dir)).toEqual([join(dir, 'scenarios/a.yaml')]);
    expect(scenariosOfCommand(['node', '/x/vitest.mjs', 'run', '--project', 'examples', 'b.test'], dir)).toEqual([join(dir, 'scenarios/b.yaml')]);
  });

  test('a vitest run without filters: every test file, none under node_modules, unparsable docblocks skipped', () => {
    expect(scenariosOfCommand(['npx', 'vitest', 'run'], dir).sort()).toEqual([join(dir, 'scenarios/a.yaml'), join(dir, 'scenarios/b.yaml')]);
  });

  test('any other command needs nothing', () => {
    expect(scenariosOfCommand(['sh', '-c', 'echo hi'], dir)).toEqual([]);
  });
});

describe('prepareScenariosOnHost', () => {
  test('bare-metal guests need no kernel and nothing is fetched', async () => {
    expect(await prepareScenariosOnHost([join(dir, 'scenarios/a.yaml')], () => {})).toEqual([]);
  });

  test('a broken scenario is a clear error naming its file', async () => {
    writeFileSync(join(dir, 'scenarios/bad.yaml'), 'name: bad\nvcpus: many\n');
    await expect(prepareScenariosOnHost([join(dir, 'scenarios/bad.yaml')], () => {})).rejects.toThrow(/bad\.yaml:2:\d+: vcpus/);
  });
});

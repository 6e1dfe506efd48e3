import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../errors.ts';
import { loadScenario } from '../runner/scenario/load.ts';
import { scaffold } from './init.ts';

describe('schedvm init', () => {
  const dirs: string[] = [];
  const project = () => {
    const d = mkdtempSync(join(tmpdir(), 'schedvm-init-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('writes a scenario that validates, a test in the schedvm environment pointing at it, and a vitest config', () => {
    const root = project();
    expect(scaffold(root, 'schedvm', { name: 'scx_simple' })).toEqual({ written: ['schedvm/scheduler.yaml', 'schedvm/scheduler.test.ts', 'vitest.config.ts'], kept: [] });
    const s = loadScenario(join(root, 'schedvm/scheduler.yaml'));
    expect(s).toMatchObject({ kernel: 'debian-sched-ext', vcpus: 2, scheduler: { name: 'scx_simple' }, expect: { scheduler_exit: 'unreg' } });
    const yaml = readFileSync(join(root, 'schedvm/scheduler.yaml'), 'utf8');
    expect(yaml.split('\n')[0]).toBe('# yaml-language-server: $schema=../node_modules/schedvm/schema/scenario.schema.json');
    const test = readFileSync(join(root, 'schedvm/scheduler.test.ts'), 'utf8');
    // Spelled in two parts: vitest reads these pragmas out of any test file's text, this one's too.
    const pragma = `@vitest-${'environment'}`;
    expect(test.split('\n').slice(0, 2)).toEqual([`// ${pragma} schedvm`, `// ${pragma}-options {"scenario": "schedvm/scheduler.yaml"}`]);
    expect(test).toContain("from 'schedvm'");
    expect(readFileSync(join(root, 'vitest.config.ts'), 'utf8')).toContain("include: ['schedvm/**/*.test.ts']");
  });

  it("names the user's own loader relative to the scenario", () => {
    const root = project();
    scaffold(root, 'tests/vm', { binary: 'build/scx_mine' });
    expect(readFileSync(join(root, 'tests/vm/scheduler.yaml'), 'utf8')).toContain('  binary: "../../build/scx_mine" ');
    // An absolute path is that file, wherever the scenario is; a space stays inside the YAML string.
    mkdirSync(join(root, 'my build'));
    writeFileSync(join(root, 'my build/scx_mine'), '#!/bin/sh\n', { mode: 0o755 });
    scaffold(root, 'abs', { binary: join(root, 'my build/scx_mine') });
    const yaml = readFileSync(join(root, 'abs/scheduler.yaml'), 'utf8');
    expect(yaml).toContain('  binary: "../my build/scx_mine" ');
    expect(loadScenario(join(root, 'abs/scheduler.yaml')).scheduler).toMatchObject({ binary: join(root, 'my build/scx_mine') });
  });

  it("takes a vite.config for the project's vitest config: keeps it, writes none; a vitest.workspace file (which vitest 4 ignores) is no config", () => {
    const spaced = project();
    writeFileSync(join(spaced, 'vitest.workspace.json'), '[]\n');
    expect(scaffold(spaced, 'schedvm', { name: 'scx_simple' }).written).toContain('vitest.config.ts');
    for (const mine of ['vite.config.ts']) {
      const root = project();
      writeFileSync(join(root, mine), 'mine\n');
      expect(scaffold(root, 'schedvm', { name: 'scx_simple' })).toEqual({ written: ['schedvm/scheduler.yaml', 'schedvm/scheduler.test.ts'], kept: [mine] });
      expect(readFileSync(join(root, mine), 'utf8')).toBe('mine\n');
    }
  });

  it("never overwrites a file of the user's: a second run, and an existing vitest config, are kept", () => {
    const root = project();
    writeFileSync(join(root, 'vitest.config.mts'), 'mine\n');
    expect(scaffold(root, 'schedvm', { name: 'scx_simple' }).kept).toEqual(['vitest.config.mts']);
    writeFileSync(join(root, 'schedvm/scheduler.yaml'), 'edited\n');
    expect(scaffold(root, 'schedvm', { name: 'scx_simple' })).toEqual({ written: [], kept: ['vitest.config.mts', 'schedvm/scheduler.yaml', 'schedvm/scheduler.test.ts'] });
    expect(readFileSync(join(root, 'schedvm/scheduler.yaml'), 'utf8')).toBe('edited\n');
    expect(readFileSync(join(root, 'vitest.config.mts'), 'utf8')).toBe('mine\n');
  });

  it('refuses a --dir that is a file, saying so, and leaves the file alone', () => {
    const root = project();
    writeFileSync(join(root, 'notes'), 'mine\n');
    expect(() => scaffold(root, 'notes', { name: 'scx_simple' })).toThrow(/--dir notes: a file of that name is in the way/);
    expect(() => scaffold(root, 'notes/deeper', { name: 'scx_simple' })).toThrow(UserError);
    expect(readFileSync(join(root, 'notes'), 'utf8')).toBe('mine\n');
  });

  it('refuses a directory outside the project', () => {
    expect(() => scaffold(project(), '../x', { name: 'scx_simple' })).toThrow(UserError);
    expect(() => scaffold(project(), '/tmp/x', { name: 'scx_simple' })).toThrow(/inside the project/);
  });
});

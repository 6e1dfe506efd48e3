import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { artifactDir, saveFailureArtifacts, toJson } from './artifacts.ts';
import type { SchedVm } from './types.ts';

const fakeVm = (name: string, ended: boolean) =>
  ({
    scenario: { name, watchpoints: [{ name: 'w', address: 0x200000n }] },
    file: `${name}.yaml`,
    state: ended ? 'ended' : 'running',
    result: ended ? { scenario: name, exitAction: 'Shutdown', snapshots: [] } : undefined,
    snapshots: [],
    console: { com1: `${name} says hi\n`, com2: ended ? '' : 'on com2\n', hvc0: '' },
  }) as unknown as SchedVm;

describe('failure artifacts', () => {
  const root = mkdtempSync(join(tmpdir(), 'schedvm-artifacts-'));
  afterEach(() => vi.restoreAllMocks());

  it('puts each test in a folder named after its file and title', () => {
    expect(artifactDir('/out', `${process.cwd()}/examples/a.test.ts`, 'suite > it: works?')).toBe('/out/examples/a.test.ts/suite_it_works');
  });

  it('writes console, result and errors, and prints the folder', () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    saveFailureArtifacts(root, { file: join(process.cwd(), 'x.test.ts'), name: 'one vm' }, [fakeVm('hello', true)], [new Error('boom')]);
    const dir = join(root, 'x.test.ts', 'one_vm');
    expect(readFileSync(join(dir, 'console.log'), 'utf8')).toBe('hello says hi\n');
    expect(JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8'))).toMatchObject({ exitAction: 'Shutdown', scenarioFile: 'hello.yaml' });
    expect(readFileSync(join(dir, 'errors.txt'), 'utf8')).toContain('Error: boom');
    expect(existsSync(join(dir, 'com2.log'))).toBe(false);
    expect(String(err.mock.calls[0]![0])).toContain('artifacts of failed test "one vm"');
  });

  it('gives several VMs a subfolder each, and a running VM its state so far', () => {
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    saveFailureArtifacts(root, { file: join(process.cwd(), 'x.test.ts'), name: 'two' }, [fakeVm('a', true), fakeVm('b', false)], []);
    const dir = join(root, 'x.test.ts', 'two');
    expect(readdirSync(dir).sort()).toEqual(['1-a', '2-b']);
    expect(JSON.parse(readFileSync(join(dir, '2-b', 'result.json'), 'utf8'))).toMatchObject({ state: 'running', scenario: 'b' });
    expect(readFileSync(join(dir, '2-b', 'com2.log'), 'utf8')).toBe('on com2\n');
  });

  it('writes the virtio console (hvc0) and COM2 only when the guest used them', () => {
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const virtio = { ...fakeVm('v', true), console: { com1: '', com2: '', hvc0: 'on hvc0\n' } } as SchedVm;
    saveFailureArtifacts(root, { file: join(process.cwd(), 'x.test.ts'), name: 'virtio' }, [virtio], []);
    const dir = join(root, 'x.test.ts', 'virtio');
    expect(readFileSync(join(dir, 'hvc0.log'), 'utf8')).toBe('on hvc0\n');
    expect(readdirSync(dir).sort()).toEqual(['console.log', 'hvc0.log', 'result.json']);
  });

  it('writes bigints as hex', () => {
    expect(toJson({ a: 0x200000n })).toBe('{\n  "a": "0x200000"\n}\n');
  });

  it('cleans up', () => rmSync(root, { recursive: true, force: true }));
});

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bootStalls, failedFiles, noteBootStall, readProgress } from './progress.ts';

describe('readProgress', () => {
  it('maps each ended file to its state, the last line winning; other lines are not files', () => {
    const text = 'passed /r/a.kvm.test.ts\nfailed /r/b.kvm.test.ts\npassed /r/b.kvm.test.ts\n\ngarbage\nboot-stalled topo-1n1l1c1t\nqueued /r/x\n';
    expect([...readProgress(text)]).toEqual([
      ['/r/a.kvm.test.ts', 'passed'],
      ['/r/b.kvm.test.ts', 'passed'],
    ]);
  });
});

describe('failedFiles', () => {
  it('names the files whose last verdict is failed: a file that passed on its rerun is not one', () => {
    const text = 'failed /r/a.kvm.test.ts\npassed /r/b.kvm.test.ts\nfailed /r/c.kvm.test.ts\npassed /r/a.kvm.test.ts\nskipped /r/d.kvm.test.ts\n';
    expect(failedFiles(text)).toEqual(['/r/c.kvm.test.ts']);
  });
});

describe('noteBootStall', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const progressFile = () => {
    const dir = mkdtempSync(join(tmpdir(), 'schedvm-progress-'));
    dirs.push(dir);
    return join(dir, 'progress');
  };

  it('appends a note only under schedvm test in the sandbox, read back by bootStalls', () => {
    const file = progressFile();
    expect(noteBootStall('topo-1', undefined, { SCHEDVM_PROGRESS_FILE: file })).toBe(false); // on the host: no sandbox to restart
    expect(noteBootStall('topo-1', undefined, { SCHEDVM_IN_SANDBOX: '1' })).toBe(false); // not under schedvm test
    const env = { SCHEDVM_PROGRESS_FILE: file, SCHEDVM_IN_SANDBOX: '1' };
    expect(noteBootStall('topo 2\nx', undefined, env)).toBe(true);
    expect(noteBootStall('topo-3', 'last line "[ 1.0] smp: Bringing up"; vCPU 0 ip=0xffffffff81000000\tsp=0x1', env)).toBe(true);
    const text = readFileSync(file, 'utf8');
    expect(bootStalls(`passed /r/a.kvm.test.ts\n${text}`)).toEqual([
      { scenario: 'topo 2 x' },
      { scenario: 'topo-3', where: 'last line "[ 1.0] smp: Bringing up"; vCPU 0 ip=0xffffffff81000000 sp=0x1' },
    ]);
    expect(readProgress(text).size).toBe(0);
  });
});

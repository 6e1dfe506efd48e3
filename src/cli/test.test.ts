import { describe, expect, it } from 'vitest';
import { failedFiles, readProgress } from './test.ts';

describe('readProgress', () => {
  it('maps each ended file to its state, the last line winning', () => {
    const text = 'passed /r/a.kvm.test.ts\nfailed /r/b.kvm.test.ts\npassed /r/b.kvm.test.ts\n\ngarbage\n';
    expect([...readProgress(text)]).toEqual([['/r/a.kvm.test.ts', 'passed'], ['/r/b.kvm.test.ts', 'passed']]);
  });
});

describe('failedFiles', () => {
  it('names the files whose last verdict is failed: a file that passed on its rerun is not one', () => {
    const text = 'failed /r/a.kvm.test.ts\npassed /r/b.kvm.test.ts\nfailed /r/c.kvm.test.ts\npassed /r/a.kvm.test.ts\nskipped /r/d.kvm.test.ts\n';
    expect(failedFiles(text)).toEqual(['/r/c.kvm.test.ts']);
  });
});

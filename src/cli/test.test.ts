import { describe, expect, it } from 'vitest';
import { readProgress } from './test.ts';

describe('readProgress', () => {
  it('maps each ended file to its state, the last line winning', () => {
    const text = 'passed /r/a.kvm.test.ts\nfailed /r/b.kvm.test.ts\npassed /r/b.kvm.test.ts\n\ngarbage\n';
    expect([...readProgress(text)]).toEqual([['/r/a.kvm.test.ts', 'passed'], ['/r/b.kvm.test.ts', 'passed']]);
  });
});

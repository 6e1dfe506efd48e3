import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from './validate.ts';

describe('schedvm validate', () => {
  afterEach(() => vi.restoreAllMocks());
  const capture = () => {
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    return () => ({ out: out.mock.calls.map((c) => String(c[0])).join(''), err: err.mock.calls.map((c) => String(c[0])).join('') });
  };

  it('reports each file: ok with what it boots, or its located problems; exit 1 when any is broken', async () => {
    const text = capture();
    const code = await main(['scenarios/bare/hello.yaml', 'examples/bare/smp-gauntlet.yaml', 'src/runner/scenario/testdata/broken/vcpus-zero.yaml', 'missing.yaml']);
    const { out, err } = text();
    expect(code).toBe(1);
    expect(out).toContain('ok scenarios/bare/hello.yaml: hello (guest hello, 1 vCPU)');
    expect(out).toContain('ok examples/bare/smp-gauntlet.yaml: smp-gauntlet (guest smp, gauntlet of 3: 1n1l1c1t, 1n1l2c2t, 2n2l1c1t)');
    expect(out).toContain('src/runner/scenario/testdata/broken/vcpus-zero.yaml:4:8: vcpus: Too small');
    expect(out).toContain('cannot read scenario missing.yaml: ENOENT');
    expect(err).toContain('2 of 4 files broken');
  });

  it('exits 0 when all are fine, 2 without files', async () => {
    capture();
    expect(await main(['scenarios/bare/smp.yaml'])).toBe(0);
    expect(await main([])).toBe(2);
  });
});

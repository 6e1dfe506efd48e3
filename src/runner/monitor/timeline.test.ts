import { describe, expect, it } from 'vitest';
import type { CpuSample, MonitorSample } from './checks.ts';
import { groupOf, timelineSvg } from './timeline.ts';

const cpu = (o: Partial<CpuSample>): CpuSample => ({ online: true, nr: 1, scx: 1, pid: 10, comm: 'spin-0', idle: false, clock: 0, ...o });

// 2 CPUs over 1 s of samples: CPU 0 runs batch-0 then hog-1; CPU 1 idles, then goes offline.
const samples: MonitorSample[] = Array.from({ length: 11 }, (_, i) => ({
  t: i * 100,
  cpus: [
    cpu({ comm: i < 5 ? 'batch-0' : 'hog-1', clock: 5e9 + i * 1e8, nr: i < 5 ? 1 : 3 }),
    i < 6 ? cpu({ idle: true, nr: 0, comm: 'idle', clock: 5e9 }) : cpu({ online: false, idle: true, nr: 0, clock: 5e9 }),
  ],
}));

describe('timeline SVG', () => {
  const svg = timelineSvg(samples, [{ atMs: 500, label: 'step 0: hotplug' }], 'demo');

  it('has a row per CPU, the groups that ran (with a legend), offline stretches and the marks', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('>CPU 0</text>');
    expect(svg).toContain('>CPU 1</text>');
    expect(svg).not.toContain('>CPU 2</text>');
    expect(svg).toContain('<title>batch</title>');
    expect(svg).toContain('<title>hog</title>');
    expect(svg).toContain('<title>offline</title>');
    expect(svg).toContain('>step 0: hotplug</text>');
    expect(svg.match(/<text x="[\d.]+" y="[\d.]+">(batch|hog|offline)<\/text>/g)).toHaveLength(3);
    expect(svg).toContain('1.00 s of monitor samples from 0.00 s');
  });

  it("puts a mark at its time on the monitor's clock: 500 ms is half way across 0–1000 ms", () => {
    expect(svg).toContain('<line x1="570.0"');
  });

  it('escapes task names and is self-contained', () => {
    const odd = timelineSvg([{ t: 0, cpus: [cpu({ comm: '<x&y>' })] }]);
    expect(odd).toContain('&#60;x&#38;y&#62;');
    expect(odd).not.toMatch(/<script|href=/);
  });

  it('colours the eight groups that ran most; the rest share "other"', () => {
    const many: MonitorSample[] = Array.from({ length: 12 }, (_, i) => ({ t: i, cpus: [cpu({ comm: `g${i}-0`, clock: i * 1e6 })] }));
    const legend = timelineSvg(many)
      .match(/<text x="[\d.]+" y="[\d.]+">[^<]+<\/text>/g)!
      .map((t) => t.replace(/<[^>]+>/g, ''));
    expect(legend.filter((t) => !t.includes('of monitor samples'))).toEqual(['g0', 'g1', 'g2', 'g3', 'g4', 'g5', 'g6', 'g7', 'other', 'offline']);
  });

  it('groups threads by name without the workload index', () => {
    expect(groupOf('batch-12')).toBe('batch');
    expect(groupOf('kworker/0:1')).toBe('kworker/0:1');
  });
});

// The monitor's samples as a picture a person reads at a glance: one row per CPU, coloured by
// the workload group (thread name without its -N suffix) running there over guest time, the
// runqueue depth as a line, offline stretches greyed, and marks (steps) as labelled lines. Time is
// the monitor's own (ms since its first sample): the host stamps a step when its start line
// arrives, so samples and marks share one clock (the guest's uptime and its runqueue clocks do
// not: sched_clock and CLOCK_BOOTTIME drift apart under emulation). A self-contained SVG: no
// scripts, no external references.
import type { MonitorSample } from './checks.ts';

export interface TimelineMark {
  /** When, on the monitor's clock (ms since it started). */
  atMs: number;
  label: string;
}

const WIDTH = 1000;
const LEFT = 70;
const ROW = 28;
const TOP = 30;
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7'];
const OTHER = '#c9c3bd';
const OFFLINE = '#888';
const LEGEND_PER_ROW = 7;

/** A thread's group: its name without the workload program's `-<index>`. */
export const groupOf = (comm: string) => comm.replace(/-\d+$/, '');

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
export function timelineSvg(samples: MonitorSample[], marks: TimelineMark[] = [], title = 'schedvm timeline'): string {
  const cpus = samples[0]?.cpus.length ?? 0;
  const t0 = samples[0]?.t ?? 0;
  const span = Math.max(1, samples.length ? samples.at(-1)!.t - t0 : 1);
  const x = (ms: number) => LEFT + ((ms - t0) / span) * WIDTH;
  // The groups that ran most get a colour each; the rest share one (hover shows the name).
  const share = new Map<string, number>();
  for (const s of samples) for (const c of s.cpus) if (c.online && !c.idle) share.set(groupOf(c.comm), (share.get(groupOf(c.comm)) ?? 0) + 1);
  const top = [...share].sort((a, b) => b[1] - a[1]).slice(0, PALETTE.length);
  const groups = new Map<string, string>(top.map(([g], i) => [g, PALETTE[i]!]));
  const colour = (g: string) => groups.get(g) ?? OTHER;
  const parts: string[] = [];
  for (let cpu = 0; cpu < cpus; cpu++) {
    const y = TOP + cpu * ROW;
    parts.push(`<text x="4" y="${y + 17}" class="cpu">CPU ${cpu}</text>`, `<rect x="${LEFT}" y="${y + 2}" width="${WIDTH}" height="${ROW - 6}" fill="#f3f3f3"/>`);
    // Runs of samples with the same state become one rect.
    let runStart = 0;
    const stateOf = (i: number) => {
      const c = samples[i]!.cpus[cpu]!;
      return !c.online ? 'offline' : c.idle ? '' : groupOf(c.comm);
    };
    for (let i = 1; i <= samples.length; i++) {
      if (i < samples.length && stateOf(i) === stateOf(runStart)) continue;
      const state = stateOf(runStart);
      const from = x(samples[runStart]!.t);
      const to = x(samples[Math.min(i, samples.length - 1)]!.t);
      if (state) {
        const fill = state === 'offline' ? OFFLINE : colour(state);
        parts.push(`<rect x="${from.toFixed(1)}" y="${y + 2}" width="${Math.max(0.5, to - from).toFixed(1)}" height="${ROW - 6}" fill="${fill}"><title>${esc(state)}</title></rect>`);
      }
      runStart = i;
    }
    const depth = samples.map((s) => `${x(s.t).toFixed(1)},${(y + ROW - 4 - Math.min(s.cpus[cpu]!.nr, 4) * 5).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${depth}" fill="none" stroke="#222" stroke-width="1"/>`);
  }
  const bottom = TOP + cpus * ROW;
  for (const m of marks) {
    const mx = x(m.atMs);
    parts.push(
      `<line x1="${mx.toFixed(1)}" y1="${TOP - 4}" x2="${mx.toFixed(1)}" y2="${bottom}" stroke="#c00" stroke-dasharray="3,2"/>`,
      `<text x="${(mx + 2).toFixed(1)}" y="${TOP - 8}" class="mark">${esc(m.label)}</text>`,
    );
  }
  const entries: Array<[string, string]> = [...groups, ...(share.size > groups.size ? [['other', OTHER] as [string, string]] : []), ['offline', OFFLINE]];
  const legend = entries.map(([g, c], i) => {
    const [lx, ly] = [LEFT + (i % LEGEND_PER_ROW) * 140, bottom + 12 + Math.floor(i / LEGEND_PER_ROW) * 18];
    return `<rect x="${lx}" y="${ly}" width="12" height="12" fill="${c}"/><text x="${lx + 16}" y="${ly + 10}">${esc(g)}</text>`;
  });
  const height = bottom + 44 + Math.ceil(entries.length / LEGEND_PER_ROW) * 18;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${LEFT + WIDTH + 20}" height="${height}" viewBox="0 0 ${LEFT + WIDTH + 20} ${height}" font-family="sans-serif" font-size="11">`,
    `<title>${esc(title)}</title>`,
    '<style>.cpu{font-weight:bold}.mark{fill:#c00}</style>',
    ...parts,
    ...legend,
    `<text x="${LEFT}" y="${height - 8}">${(span / 1000).toFixed(2)} s of monitor samples from ${(t0 / 1000).toFixed(2)} s; black line: runqueue depth (0–4); grey: offline; blank: idle</text>`,
    '</svg>',
    '',
  ].join('\n');
}

// The kvm phase's figures in `schedvm test`'s closing line, written here and read back here (the
// kvm-phase benchmark reads them out of a run's stderr).

export interface PhaseSummary {
  /** Sandbox VMs that ran files at once. */
  vms: number;
  starts: number;
  stalls: number;
  bootStalls: number;
  seconds: number;
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

/** "in the sandbox, 2 VMs at once, 2 VM starts, 0 sandbox stalls, 0 guest boot stalls, 964 s" */
export function formatSandboxSummary(s: PhaseSummary): string {
  return `in the sandbox, ${s.vms > 1 ? `${s.vms} VMs at once, ` : ''}${plural(s.starts, 'VM start')}, ${s.stalls} sandbox stalls, ${s.bootStalls} guest boot stalls, ${s.seconds} s`;
}

/** The figures of the last summary in `text`, or undefined when it has none. */
export function parseSandboxSummary(text: string): PhaseSummary | undefined {
  const all = [...text.matchAll(/in the sandbox, (?:(\d+) VMs at once, )?(\d+) VM starts?, (\d+) sandbox stalls, (\d+) guest boot stalls, (\d+) s/g)];
  const m = all.at(-1);
  if (!m) return undefined;
  return { vms: Number(m[1] ?? 1), starts: Number(m[2]), stalls: Number(m[3]), bootStalls: Number(m[4]), seconds: Number(m[5]) };
}

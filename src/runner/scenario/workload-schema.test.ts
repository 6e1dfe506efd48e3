import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseScenario } from './load.ts';
import { scenarioProblems } from './problems.testing.ts';

const base = 'name: w\nkernel: debian-sched-ext\ntopology: 1n2l2c1t\n';
const problems = (text: string) => scenarioProblems(base + text, 'w.yaml');

describe('workload groups and gates in a scenario', () => {
  it('takes groups of every kind, with their defaults, and gates', () => {
    const s = parseScenario(
      `${base}workload:
  duration_s: 2
  groups:
    - { name: batch, kind: spin, threads: 4, nice: 5 }
    - { name: chat, kind: pingpong, pairs: 2, expect: { wake_latency_p99_us: 5000 } }
    - { name: tick, kind: periodic, threads: 2, period_us: 2000, run_us: 200 }
    - { name: pinned, kind: spin, threads: 2, cpus: [0], policy: fifo, priority: 5 }
expect:
  workload: { max_gap_ms: 500, fairness_spread: 0.3, min_cpu_busy: 0.5 }
`,
      'w.yaml',
    );
    expect(s.workload!.groups![0]).toEqual({ name: 'batch', kind: 'spin', threads: 4, nice: 5, policy: 'normal' });
    expect(s.workload!.groups![1]!.expect).toEqual({ wake_latency_p99_us: 5000 });
    expect(s.expect.workload).toEqual({ max_gap_ms: 500, fairness_spread: 0.3, min_cpu_busy: 0.5 });
  });

  it('runs groups without a scheduler (the kernel default one)', () => {
    expect(parseScenario(`${base}workload: { groups: [{ name: a, kind: yield }] }\n`, 'w.yaml').workload?.groups).toHaveLength(1);
  });

  it('a baseline needs a scheduler to compare with, and the *_vs_baseline gates need a baseline', () => {
    expect(problems('workload: { baseline: default, groups: [{ name: a, kind: spin }] }\n')).toMatch(
      /^w\.yaml:4:\d+: workload\.baseline: compares the scenario's scheduler with the kernel's default: add scheduler/,
    );
    expect(problems('scheduler: { name: scx_simple }\nworkload: { groups: [{ name: a, kind: spin, expect: { rounds_vs_baseline: 0.8 } }] }\n')).toMatch(
      /workload\.groups\.0\.expect\.rounds_vs_baseline: compares with a baseline run: add workload\.baseline: default/,
    );
    expect(problems('scheduler: { name: scx_simple }\nexpect: { workload: { cpu_busy_vs_baseline: 0.9 } }\n')).toMatch(/expect\.workload\.cpu_busy_vs_baseline: compares with a baseline run/);
    expect(problems('scheduler: { name: scx_simple }\nworkload: { baseline: default, shell: "true" }\n')).toMatch(/workload\.baseline: compares runs of the workload program/);
    expect(problems('scheduler: { name: scx_simple }\nworkload: { baseline: kernel }\n')).toMatch(/workload\.baseline: Invalid input: expected "default"/);
    const s = parseScenario(`${base}scheduler: { name: scx_simple }\nworkload: { baseline: default }\nexpect: { workload: { cpu_busy_vs_baseline: 0.9, rounds_vs_baseline: 0.8 } }\n`, 'w.yaml');
    expect(s.workload!.baseline).toBe('default');
  });

  it('takes cgroups, and refuses one that leaves its tree or is set up two ways', () => {
    const s = parseScenario(`${base}workload: { groups: [{ name: a, kind: spin, cgroup: { path: t/a, cpu_weight: 300, cpuset: [1] }, cpus: [1] }] }\n`, 'w.yaml');
    expect(s.workload!.groups![0]!.cgroup).toEqual({ path: 't/a', cpu_weight: 300, cpuset: [1] });
    expect(problems('workload: { groups: [{ name: a, kind: spin, cgroup: { path: ../a } }] }\n')).toMatch(
      /workload\.groups\.0\.cgroup\.path: stays inside the workload's cgroup tree: no '\.' or '\.\.' in the path/,
    );
    expect(problems('workload: { groups: [{ name: a, kind: spin, cgroup: { path: /sys/fs/cgroup } }] }\n')).toMatch(/cgroup\.path: expected a relative path of names/);
    expect(problems('workload: { groups: [{ name: a, kind: spin, cgroup: { path: x, cpu_weight: 2 } }, { name: b, kind: spin, cgroup: { path: x } }] }\n')).toMatch(
      /workload\.groups\.1\.cgroup: cgroup 'x' has other cpu_weight or cpuset in group 'a'/,
    );
    expect(problems('workload: { groups: [{ name: a, kind: spin, cpus: [0], cgroup: { path: x, cpuset: [1] } }] }\n')).toMatch(
      /workload\.groups\.0\.cpus: CPU 0 is outside the group's cgroup cpuset \(1\)/,
    );
    expect(problems('workload: { groups: [{ name: a, kind: spin, cgroup: { path: x, cpuset: [9] } }] }\n')).toMatch(/workload\.groups\.0\.cgroup\.cpuset: CPU 9 is not in this VM/);
    expect(problems('workload: { groups: [{ name: a, kind: spin, cgroup: { path: x, cpu_weight: 0 } }] }\n')).toMatch(/cgroup\.cpu_weight: Too small/);
  });

  it('takes command groups, and refuses what only the workload program can do for them', () => {
    const s = parseScenario(`${base}workload: { groups: [{ name: s, kind: command, command: stress-ng --cpu 2 }] }\n`, 'w.yaml');
    expect(s.workload!.groups![0]).toMatchObject({ kind: 'command', command: 'stress-ng --cpu 2' });
    expect(problems('workload: { groups: [{ name: s, kind: command }] }\n')).toMatch(/workload\.groups\.0\.command: a command group needs command/);
    expect(problems('workload: { groups: [{ name: s, kind: command, command: x, threads: 2, nice: 3 }] }\n')).toMatch(
      /workload\.groups\.0\.threads: is for the workload program's kinds: set it in the command[\s\S]*workload\.groups\.0\.nice: is for/,
    );
    expect(problems('workload: { groups: [{ name: s, kind: command, command: x, expect: { max_gap_ms: 5 } }] }\n')).toMatch(/workload\.groups\.0\.expect: command groups are measured, not gated/);
    expect(problems('workload: { groups: [{ name: s, kind: spin, command: x }] }\n')).toMatch(/workload\.groups\.0\.command: is for kind command/);
  });

  it('resolves host programs on PATH or beside the scenario, and names the Debian package of a missing one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'programs-'));
    const saved = process.env.PATH;
    try {
      writeFileSync(join(dir, 'mytool'), '#!/bin/sh\n', { mode: 0o755 });
      writeFileSync(join(dir, 'other'), '#!/bin/sh\n', { mode: 0o755 });
      process.env.PATH = dir;
      const s = parseScenario(`${base}scheduler: { name: scx_simple }\nworkload: { programs: [mytool, ./other], shell: mytool }\n`, join(dir, 'w.yaml'));
      expect(s.workload!.programs).toEqual([join(dir, 'mytool'), join(dir, 'other')]);
      // Both would land at /usr/bin/mytool.
      expect(scenarioProblems(`${base}workload: { programs: [mytool, ./mytool] }\n`, join(dir, 'w.yaml'))).toMatch(
        /workload\.programs\.1: '\.\/mytool' lands at \/usr\/bin\/mytool like item 0 \('mytool'\): rename one of them/,
      );
      const msg = scenarioProblems(`${base}workload: { programs: [stress-ng, nosuch, ./gone] }\n`, join(dir, 'w.yaml'));
      expect(msg).toContain("workload.programs.0: stress-ng is not on this host's PATH (Debian: apt-get install stress-ng)");
      expect(msg).toContain("workload.programs.1: nosuch is not on this host's PATH");
      expect(msg).toMatch(/workload\.programs\.2: cannot use .*\/gone as a program: ENOENT/);
    } finally {
      process.env.PATH = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('locates each mistake at its field', () => {
    expect(problems('workload: { groups: [{ name: a, kind: sleep }] }\n')).toMatch(/^w\.yaml:4:\d+: workload\.groups\.0\.kind: Invalid option: expected one of "spin"\|"yield"/);
    expect(problems('workload: { groups: [{ name: a, kind: spin, cpus: [0, 4] }] }\n')).toMatch(/workload\.groups\.0\.cpus: CPU 4 is not in this VM \(its CPUs are 0\.\.3\)/);
    expect(problems('workload: { groups: [{ name: a, kind: pingpong, threads: 3 }] }\n')).toMatch(/workload\.groups\.0\.threads: pingpong threads come in pairs/);
    expect(problems('workload: { groups: [{ name: a, kind: periodic }] }\n')).toMatch(/workload\.groups\.0\.period_us: a periodic group needs period_us/);
    expect(problems('workload: { groups: [{ name: a, kind: periodic, period_us: 1000, run_us: 1000 }] }\n')).toMatch(/run_us: must be below period_us \(1000\)/);
    expect(problems('workload: { groups: [{ name: a, kind: spin }, { name: a, kind: yield }] }\n')).toMatch(/workload\.groups\.1\.name: the name 'a' is used twice/);
    expect(problems('workload: { groups: [{ name: Batch-1, kind: spin }] }\n')).toMatch(/workload\.groups\.0\.name: expected 1 to 10 lower-case letters/);
    expect(problems('workload: { groups: [{ name: a, kind: spin }] }\nexpect: { workload: { max_gap_ms: soon } }\n')).toMatch(
      /expect\.workload\.max_gap_ms: Invalid input: expected number, received string/,
    );
    expect(problems('workload: { groups: [{ name: a, kind: spin, expect: { min_cpu_busy: 1 } }] }\n')).toMatch(/workload\.groups\.0\.expect\.min_cpu_busy: unknown field/);
    expect(problems('workload: { threads: 2, groups: [{ name: a, kind: spin }] }\n')).toMatch(/workload\.groups: give one of threads, groups or shell \(also given: threads\)/);
    expect(problems('expect: { workload: { max_gap_ms: 5 } }\n')).toMatch(/expect\.workload: gates measure the workload program: add workload\.groups/);
    expect(problems('workload: { shell: "true" }\n')).toMatch(/workload\.shell: a workload shell runs under a scheduler/);
  });
});

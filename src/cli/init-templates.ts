// What `schedvm init` writes into a scheduler's repository: a scenario, a test file in the
// schedvm environment, and a vitest config. The scenario is a real one (it validates, and its
// gates fail a broken scheduler); the test says the same things explicitly.
import { scenarioSchemaId } from '../runner/scenario/reference.ts';

export interface InitChoices {
  /** Directory (relative to the project) holding the scenario and the test. */
  dir: string;
  /** A built scheduler's name (scx_simple, ...), or the user's own loader, relative to the scenario file. */
  scheduler: { name: string } | { binary: string };
  /** The JSON Schema the scenario's first line names: the installed package's, relative to the scenario. */
  schemaPath: string;
}

export function scenarioTemplate(c: InitChoices): string {
  const sched = 'name' in c.scheduler ? `  name: ${c.scheduler.name}` : `  binary: ${JSON.stringify(c.scheduler.binary)}   # your loader, relative to this file`;
  return `# yaml-language-server: $schema=${c.schemaPath}
# (the schema of this schedvm release: ${scenarioSchemaId()})
#
# Your scheduler under a workload, in a Linux guest of 2 CPUs on 2 LLCs (small enough for the
# sandbox's emulation in CI; on hardware KVM, try topology: 2n2l4c2t). The test file fails
# when the scheduler exits any other way than a clean stop (an error, a stall), when a thread
# goes 2 s without running, or when a CPU idles with tasks queued for 0.5 s. Add \`steps:\`
# (hotplug, reloads, cgroup moves) and more gates from README's scenario reference;
# \`npx schedvm validate\` checks this file.
name: scheduler-basic
kernel: debian-sched-ext
topology: 1n2l1c1t
memory_mb: 512
timeout_s: 600
scheduler:
${sched}
workload:
  duration_s: 5
  groups:
    - { name: batch, kind: spin, threads: 2 }
    - { name: latency, kind: periodic, threads: 1, period_us: 10000 }
monitor: { hz: 100 }
expect:
  scheduler_exit: unreg
  workload:
    max_gap_ms: 2000
  monitor:
    max_rq_stall_ms: 500
`;
}

export function testTemplate(scenarioPath: string): string {
  return `// @vitest-environment schedvm
// @vitest-environment-options {"scenario": "${scenarioPath}"}
//
// One VM for this file, booted from the scenario above. Its expect: gates already fail the
// file; the tests below are where your own assertions go.
import { expect, test } from 'schedvm';

test('the scheduler runs the workload and is stopped cleanly', async ({ vm }) => {
  const result = await vm.run();
  expect(result).toExitWith('Shutdown');
  expect(vm).toHaveSchedulerExit('unreg');
  expect(result.scheduler?.state).toBe('enabled');
});

test('every step went through', async ({ vm }) => {
  const { steps } = await vm.run();
  for (const step of steps ?? []) expect(step.ok, step.message).toBe(true);
});
`;
}

export function vitestConfigTemplate(dir: string): string {
  return `import { defineConfig } from 'vitest/config';

// schedvm's test files boot a VM each: run them in forked workers, with room for a boot.
export default defineConfig({
  test: {
    include: ['${dir}/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
});
`;
}

// @vitest-environment schedvm
// @vitest-environment-options {"scenario": "examples/sched/exit-kind.yaml"}
//
// A scheduler gate: did the scheduler exit with an error kind? With a real sched_ext scheduler
// the gate is `expect(vm).not.toHaveLatched('scx_exit_kind')`. The stand-in guest stores
// SCX_EXIT_ERROR on purpose, so here the gate must trip, and tell where.
import { expect, test } from 'schedvm';

const EXIT_KIND_ADDR = 0x200000;
const SCX_EXIT_ERROR = 1024;

test('the run ends normally even though the gate tripped', async ({ vm }) => {
  expect(await vm.run()).toExitWith('Shutdown');
});

test('the exit_kind watchpoint latched the error kind', async ({ vm }) => {
  await vm.run();
  expect(vm).toHaveLatched('scx_exit_kind');
  expect(vm.result?.watchpoints.scx_exit_kind).toMatchObject({ hit: true, vcpu: 0, value: BigInt(SCX_EXIT_ERROR) }); // at the watch's width, unsigned
  expect(vm.readU32(EXIT_KIND_ADDR)).toBe(SCX_EXIT_ERROR); // guest RAM stays readable after the run
});

test('vCPU 0 was frozen right after its store', async ({ vm }) => {
  await vm.run();
  expect(vm).toHaveSnapshotAt('after_error_store', { trigger: 'watchpoint:scx_exit_kind', vcpu: 0 });
});

test('a watchpoint nobody writes stays quiet', async ({ vm }) => {
  await vm.run();
  expect(vm).not.toHaveLatched('stray_write');
});

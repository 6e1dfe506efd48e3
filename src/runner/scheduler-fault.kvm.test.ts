// Our scx_fault scheduler's faults, each caught as the exit kind it stands for, with the
// host-side exit-kind watch (slot 0) latched and every vCPU frozen for an error kind.
import { describe, expect, it } from 'vitest';
import { scenarioGate } from './gates.ts';
import { runScenario } from './run-scenario.ts';
import { gauntletOf } from './scenario/gauntlet.ts';
import { loadScenario } from './scenario/load.ts';

const TEST_TIMEOUT_MS = 900_000;
const tail = (text: string) => text.slice(-4000);

describe('scx_fault: each fault is caught as its exit kind', () => {
  it.each([
    ['fault-error.yaml', 'error_bpf', /scx_bpf_error/],
    ['fault-stall.yaml', 'error_stall', /runnable task stall/],
    ['fault-clean.yaml', 'unreg', /unregistered from user space/],
  ] as const)(
    '%s -> %s',
    async (file, kind, reason) => {
      const s = loadScenario(`scenarios/sched/${file}`);
      const r = await runScenario(s);
      expect(r.exitAction, tail(r.console.com1)).toBe('Shutdown');
      expect(r.scheduler, tail(r.console.com1)).toMatchObject({ name: 'scx_fault', state: 'enabled', exitKind: kind });
      expect(r.scheduler!.reason).toMatch(reason);
      // The host watched scx_root->exit_kind: an error kind latched slot 0 and froze every vCPU.
      expect(r.scheduler!.exitKindWatch, r.kernelWatch?.join('\n')).toMatch(/^exit-kind watch: armed/);
      // Once the loader has exited the watch leaves scx_sched, which the kernel frees; a latch stays.
      expect(r.kernelWatch, r.kernelWatch?.join('\n')).toContain('exit-kind watch: disarmed, the scheduler has exited');
      const isError = kind.startsWith('error');
      expect(r.scheduler!.watchpointLatched).toBe(isError);
      const frozen = r.snapshots
        .filter((x) => x.trigger === 'watchpoint:scx_exit_kind')
        .map((x) => x.vcpu)
        .sort();
      expect(frozen).toEqual(isError ? [...Array(s.vcpus).keys()] : []);
      // The loader's exit report, with the kernel's debug dump for an error kind.
      const dump = r.scheduler!.dump.join('\n');
      expect(dump).toMatch(/EXIT: /);
      if (!isError) return;
      expect(dump).toContain('DEBUG DUMP');
      expect(r.watchpoints.scx_exit_kind).toMatchObject({ slot: 0, hit: true, value: kind === 'error_bpf' ? 1025n : 1026n });
      // The vCPU that stored the kind was in the kernel: its snapshot is symbolised.
      const storer = r.snapshots.find((x) => x.trigger === 'watchpoint:scx_exit_kind' && x.vcpu === r.watchpoints.scx_exit_kind!.vcpu)!;
      expect(storer.symbol, storer.text).toMatch(/^\w+\+0x[0-9a-f]+$/);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "fault-reject.yaml: the verifier refuses it: not_enabled, with the verifier's log in the result and the gate's message",
    async () => {
      const file = 'scenarios/sched/fault-reject.yaml';
      const s = loadScenario(file);
      const r = await runScenario(s);
      const why = tail(r.console.com1);
      expect(r.scheduler, why).toMatchObject({ name: 'scx_fault', state: 'not_enabled', exitKind: 'none', verifier: { program: 'fault_select_cpu' } });
      expect(r.scheduler!.verifier!.log.join('\n'), why).toMatch(/invalid mem access 'scalar'/);
      const gate = scenarioGate(file, s, r)!;
      expect(gate).toContain('expected scheduler scx_fault of scx_fault-reject to exit with unreg, it exited with none');
      expect(gate).toContain('the BPF verifier rejected fault_select_cpu');
      expect(gate).toMatch(/\| .*invalid mem access 'scalar'/);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "fault-reject-one-kernel.yaml: loads on sid's kernel, the verifier refuses it on trixie-backports' only",
    async () => {
      const file = 'scenarios/sched/fault-reject-one-kernel.yaml';
      const [sid, backports] = gauntletOf(loadScenario(file));
      const ok = await runScenario(sid!.scenario);
      expect(ok.scheduler, tail(ok.console.com1)).toMatchObject({ name: 'scx_fault', state: 'enabled', exitKind: 'unreg' });
      expect(scenarioGate(file, sid!.scenario, ok)).toBeUndefined();
      const refused = await runScenario(backports!.scenario);
      expect(refused.guest?.release).toMatch(/\+deb13/);
      expect(refused.scheduler, tail(refused.console.com1)).toMatchObject({ state: 'not_enabled', exitKind: 'none', verifier: { program: 'fault_select_cpu' } });
      const gate = scenarioGate(`${file} (${backports!.name})`, backports!.scenario, refused)!;
      expect(gate).toContain('the BPF verifier rejected fault_select_cpu');
    },
    TEST_TIMEOUT_MS,
  );
});

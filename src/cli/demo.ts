// `schedvm demo`: one of the examples a new user copies, examples/linux-topology.test.ts (Debian's
// sched_ext kernel on 2 NUMA nodes with SMT, fetched on first use), run by vitest with the guest
// console streamed live; through the sandbox when this host has no usable /dev/kvm.
import { runWithKvmPrepared } from './with-kvm.ts';
import { ROOT, vitest } from './test.ts';

export const DEMO_EXAMPLE = 'examples/linux-topology.test.ts';

export async function main(args: string[]): Promise<number> {
  process.stderr.write(`schedvm demo: vitest runs ${DEMO_EXAMPLE}; its guest's console is shown live, each line tagged with the scenario\n`);
  return runWithKvmPrepared(vitest(['examples'], [DEMO_EXAMPLE, ...args]), { cwd: ROOT, env: { SCHEDVM_CONSOLE: '1' } });
}

// Which watchpoint mechanism this host's KVM supports: the debug registers when a probe guest's
// store really trips one (some nested hypervisors never report the hit), else write traps.
import { UserError } from '../errors.ts';
import { buildGuest } from '../fixtures/guests/build.ts';
import { Vm, type WatchMechanism } from '../vmm/vm.ts';
import { BARE_WATCH_BASE } from '../vmm/arch.ts';
import { toGuestVirt } from '../vmm/guest-address.ts';

const CHOICES = ['auto', 'debugregs', 'writetrap'] as const;
let probed: Promise<WatchMechanism> | undefined;

/** True when a debug-register watchpoint on the watch-user guest's first store latches. */
export async function debugRegistersWork(): Promise<boolean> {
  const vm = await Vm.create({
    vcpus: 1,
    memoryMb: 16,
    guest: { kind: 'bare', image: await buildGuest('watch-user') },
    timeoutMs: 10_000,
    watchMechanism: 'debugregs',
    watchpoints: [{ name: 'probe', address: toGuestVirt(BARE_WATCH_BASE + 8), len: 4, on: 'write', kind: 'user', freeze: false }],
  });
  const r = await vm.run();
  return r.watchpoints.probe?.hit === true;
}

/** SCHEDVM_WATCH (auto, debugregs or writetrap); auto probes once per process. */
export function resolveWatchMechanism(env: NodeJS.ProcessEnv = process.env): Promise<WatchMechanism> {
  const choice = env.SCHEDVM_WATCH ?? 'auto';
  if (!(CHOICES as readonly string[]).includes(choice)) {
    throw new UserError(`SCHEDVM_WATCH='${choice}': expected one of ${CHOICES.join(', ')}`);
  }
  if (choice !== 'auto') return Promise.resolve(choice as WatchMechanism);
  probed ??= debugRegistersWork().then((ok) => (ok ? 'debugregs' : 'writetrap'));
  return probed;
}

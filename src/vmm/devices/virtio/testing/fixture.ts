// Guest RAM and a VirtioEnv that counts interrupts, for device tests.
import type { GuestPhysAddr } from '../../../guest-address.ts';
import { GuestMemory } from '../../../memory.ts';
import type { VirtioEnv } from '../device.ts';

export interface TestEnv {
  memory: GuestMemory;
  env: VirtioEnv;
  /** Interrupts raised through env.interrupt. */
  irqs(): number;
  /** Reasons heard through env.onNeedsReset. */
  reasons: string[];
}

export function testEnv(layout: Array<{ gpa: GuestPhysAddr; size: number }> = [{ gpa: 0, size: 1 << 20 }]): TestEnv {
  const memory = GuestMemory.allocate(layout);
  let irqs = 0;
  const reasons: string[] = [];
  return {
    memory,
    env: { memory, interrupt: () => void irqs++, onNeedsReset: (r) => void reasons.push(r) },
    irqs: () => irqs,
    reasons,
  };
}

// Debug exits as KVM leaves them in kvm_run (struct kvm_debug_exit_arch), per architecture, for
// tests that drive WatchpointArch implementations without a CPU.
import { DEBUG_EXIT_DR6 } from './x86_64/debugregs.ts';

/** x86: DR6 with its reserved bits read as 1 and B0..B3 set for `slots`. */
export function x86DebugExit(...slots: number[]): DataView {
  const dr6 = slots.reduce((v, s) => v | (1n << BigInt(s)), 0xffff0ff0n);
  const exit = new DataView(new ArrayBuffer(32));
  exit.setBigUint64(DEBUG_EXIT_DR6, dr6, true);
  return exit;
}

/** arm64: an ESR of exception class `ec` (hsr, at 0), then FAR (at 8). */
export function arm64DebugExit(ec: number, far = 0n): DataView {
  const exit = new DataView(new ArrayBuffer(16));
  exit.setUint32(0, (ec << 26) >>> 0, true);
  exit.setBigUint64(8, far, true);
  return exit;
}

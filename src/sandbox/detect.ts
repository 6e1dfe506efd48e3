import { closeSync, existsSync, openSync } from 'node:fs';
import { UserError } from '../errors.ts';

/**
 * True when /dev/kvm opens read-write and is backed by hardware virtualization (kvm_amd or
 * kvm_intel). A software KVM such as PVM (kvm_pvm: shadow paging, no debug-register hits,
 * Linux guests barely crawl through boot) counts as no KVM: the sandbox does better.
 */
export function kvmUsable(sysModule = '/sys/module', dev = '/dev/kvm'): boolean {
  try {
    closeSync(openSync(dev, 'r+'));
  } catch {
    return false;
  }
  return hardwareKvmLoaded(sysModule);
}

export function hardwareKvmLoaded(sysModule = '/sys/module'): boolean {
  return existsSync(`${sysModule}/kvm_amd`) || existsSync(`${sysModule}/kvm_intel`);
}

export const SANDBOX_MODES = ['auto', 'force', 'never'] as const;
export type SandboxMode = (typeof SANDBOX_MODES)[number];

/** SCHEDVM_SANDBOX: `auto` (default) uses the sandbox only without a usable /dev/kvm. */
export function sandboxMode(env: NodeJS.ProcessEnv = process.env): SandboxMode {
  const value = env.SCHEDVM_SANDBOX;
  if (value === undefined || value === '') return 'auto';
  if ((SANDBOX_MODES as readonly string[]).includes(value)) return value as SandboxMode;
  throw new UserError(`SCHEDVM_SANDBOX='${value}' is not one of ${SANDBOX_MODES.join(', ')}`);
}

/** Whether to boot the sandbox VM rather than run the command on this host. */
export function needsSandbox(mode: SandboxMode, hostHasKvm: () => boolean = kvmUsable): boolean {
  if (mode === 'force') return true;
  if (mode === 'never') return false;
  return !hostHasKvm();
}

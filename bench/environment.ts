// What a phase ran on: the report must say where each figure came from.
import { existsSync, readFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import type { Where } from './stats.ts';

export interface Environment {
  where: Where;
  /** The module behind /dev/kvm: kvm_amd / kvm_intel (hardware), kvm_pvm (software), or none. */
  kvm: string;
  cpu: string;
  cores: number;
  kernel: string;
  node: string;
}

export function whereAmI(): Where {
  return process.env.SCHEDVM_IN_SANDBOX === '1' ? 'sandbox' : 'host';
}

function kvmModule(): string {
  for (const m of ['kvm_amd', 'kvm_intel', 'kvm_pvm']) if (existsSync(`/sys/module/${m}`)) return m;
  return existsSync('/dev/kvm') ? 'unknown' : 'none';
}

function cpuModel(): string {
  const m = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
  return m?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown';
}

export function describeEnvironment(): Environment {
  return { where: whereAmI(), kvm: kvmModule(), cpu: cpuModel(), cores: cpus().length, kernel: release(), node: process.version };
}

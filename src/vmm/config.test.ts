import { describe, expect, it } from 'vitest';
import { checkWatchpoints, resolveTopology } from './config.ts';
import { VmmConfigError, VmmError } from './errors.ts';
import { OsError } from './sys/libc.ts';

const image = new Uint8Array(16);
const bare = { memoryMb: 16, guest: { kind: 'bare' as const, image } };
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as VmmError).code;
  }
  return undefined;
};

describe('VmConfig checks', () => {
  it('resolves vcpus alone to one LLC, and a topology as given', () => {
    expect(resolveTopology({ ...bare, vcpus: 3 })).toEqual({ numa_nodes: 1, llcs: 1, cores_per_llc: 3, threads_per_core: 1 });
    const t = { numa_nodes: 2, llcs: 2, cores_per_llc: 1, threads_per_core: 2 };
    expect(resolveTopology({ ...bare, topology: t, vcpus: 4 })).toBe(t);
  });

  it('starts bare-metal guests past APIC id 254, Linux guests not', () => {
    const wide = { numa_nodes: 2, llcs: 6, cores_per_llc: 21, threads_per_core: 2 };
    expect(resolveTopology({ ...bare, topology: wide })).toBe(wide);
    const linux = { memoryMb: 512, guest: { kind: 'linux' as const, bzImage: image, initramfs: image, cmdline: '' } };
    expect(() => resolveTopology({ ...linux, topology: wide })).toThrow(/^topology: highest APIC id would be 425 .*up to 254/);
    expect(() => resolveTopology({ ...bare, vcpus: 300 })).toThrow(/^vcpus: 300 vCPUs per NUMA node; at most 256 fit one package/);
  });

  it('refuses what it cannot build with VMM_CONFIG', () => {
    expect(code(() => resolveTopology({ ...bare, vcpus: 0 }))).toBe('VMM_CONFIG');
    expect(code(() => resolveTopology({ ...bare, topology: { numa_nodes: 2, llcs: 3, cores_per_llc: 1, threads_per_core: 1 } }))).toBe('VMM_CONFIG');
    expect(code(() => resolveTopology({ ...bare, topology: { numa_nodes: 1, llcs: 1, cores_per_llc: 2, threads_per_core: 1 }, vcpus: 3 }))).toBe('VMM_CONFIG');
    const rw = { name: 'w', address: 0x1000n, len: 4 as const, on: 'readwrite' as const, kind: 'user' as const, freeze: false };
    expect(code(() => checkWatchpoints({ ...bare, vcpus: 1, watchMechanism: 'writetrap', watchpoints: [rw] }))).toBe('VMM_CONFIG');
    expect(code(() => checkWatchpoints({ ...bare, vcpus: 1, watchpoints: [rw] }))).toBeUndefined();
    expect(code(() => checkWatchpoints({ ...bare, vcpus: 1, watchpoints: [{ ...rw, address: 0x1001n }] }))).toBe('VMM_WATCHPOINT');
  });

  it("gives every VMM error a code: its own, or a failed call's errno name", () => {
    expect(new VmmConfigError('x')).toMatchObject({ code: 'VMM_CONFIG', name: 'VmmConfigError' });
    const os = new OsError('open(/dev/kvm)', 2);
    expect(os).toBeInstanceOf(VmmError);
    expect(os).toMatchObject({ code: 'ENOENT', errno: 2, message: 'open(/dev/kvm) failed: ENOENT' });
  });
});

import { describe, expect, it } from 'vitest';
import { scenarioSchema } from './scenario/schema.ts';
import { schedulerExitKind, schedulerResult } from './scheduler.ts';

describe('schedulerExitKind', () => {
  it("takes the guest's report when it names a kind", () => {
    expect(schedulerExitKind(64, undefined)).toBe('unreg');
    expect(schedulerExitKind(1025, 1026)).toBe('error_bpf'); // the guest saw the exit: its word stands
  });

  it('takes the latched kind when the guest reported none or an unnamed one', () => {
    expect(schedulerExitKind(undefined, 1024)).toBe('error');
    expect(schedulerExitKind(undefined, 1025)).toBe('error_bpf');
    expect(schedulerExitKind(0, 1026)).toBe('error_stall');
    expect(schedulerExitKind(4242, 1026)).toBe('error_stall');
  });

  it('calls an unnamed latched error kind error', () => {
    expect(schedulerExitKind(undefined, 1100)).toBe('error');
  });

  it('is none without a report or a latch, error for an unnamed report', () => {
    expect(schedulerExitKind(undefined, undefined)).toBe('none');
    expect(schedulerExitKind(4242, undefined)).toBe('error');
  });
});

describe('schedulerResult', () => {
  const s = scenarioSchema.parse({ name: 'a', kernel: 'host', scheduler: { name: 'scx_fault' } });

  it('uses the latched value only when the watchpoint latched', () => {
    expect(schedulerResult(s, '', true, 'armed', 1026)).toMatchObject({ name: 'scx_fault', exitKind: 'error_stall', watchpointLatched: true });
    expect(schedulerResult(s, '', false, 'armed', 1026).exitKind).toBe('none');
  });
});

describe('schedulerPayload', () => {
  it("ships the kernel's config as /boot/config-<release>, where libbpf resolves __kconfig externs", async () => {
    const { schedulerPayload } = await import('./scheduler.ts');
    const s = scenarioSchema.parse({ name: 's', kernel: 'host', scheduler: { binary: '/bin/true', ops: 'x' } });
    const kernel = { name: 'k', version: '7.3.4+deb13-cloud-amd64', bzImage: '/k', configFile: '/cache/config' };
    const withConfig = await schedulerPayload(s, kernel, undefined);
    expect(withConfig.files).toContainEqual({ host: '/cache/config', guest: '/boot/config-7.3.4+deb13-cloud-amd64' });
    const without = await schedulerPayload(s, { name: 'k', version: '1', bzImage: '/k' }, undefined);
    expect(without.files.some((f) => f.guest.startsWith('/boot/'))).toBe(false);
  });
});

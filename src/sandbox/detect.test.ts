import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { UserError } from '../errors.ts';
import { kvmUsable, needsSandbox, sandboxMode } from './detect.ts';

describe('sandboxMode', () => {
  test('defaults to auto when unset or empty', () => {
    expect(sandboxMode({})).toBe('auto');
    expect(sandboxMode({ SCHEDVM_SANDBOX: '' })).toBe('auto');
  });

  test('accepts force, never and auto', () => {
    for (const m of ['force', 'never', 'auto']) expect(sandboxMode({ SCHEDVM_SANDBOX: m })).toBe(m);
  });

  test('rejects other values with a UserError naming the variable and the choices', () => {
    expect(() => sandboxMode({ SCHEDVM_SANDBOX: 'yes' })).toThrow(UserError);
    expect(() => sandboxMode({ SCHEDVM_SANDBOX: 'yes' })).toThrow(/SCHEDVM_SANDBOX='yes'.*auto, force, never/);
  });
});

describe('needsSandbox', () => {
  test('auto follows the host, force and never ignore it', () => {
    expect(needsSandbox('auto', () => true)).toBe(false);
    expect(needsSandbox('auto', () => false)).toBe(true);
    expect(needsSandbox('force', () => true)).toBe(true);
    expect(needsSandbox('never', () => false)).toBe(false);
  });
});

describe('kvmUsable', () => {
  const root = mkdtempSync(join(tmpdir(), 'schedvm-detect-'));
  const dev = join(root, 'kvm');
  writeFileSync(dev, '');
  const modules = (...names: string[]) => {
    const dir = mkdtempSync(join(root, 'mod-'));
    for (const n of names) mkdirSync(join(dir, n));
    return dir;
  };
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  test('wants a hardware KVM module behind an openable /dev/kvm', () => {
    expect(kvmUsable(modules('kvm', 'kvm_amd'), dev)).toBe(true);
    expect(kvmUsable(modules('kvm', 'kvm_intel'), dev)).toBe(true);
  });
  test('treats a software KVM (PVM) as no KVM', () => {
    expect(kvmUsable(modules('kvm', 'kvm_pvm'), dev)).toBe(false);
  });
  test('is false without /dev/kvm', () => {
    expect(kvmUsable(modules('kvm', 'kvm_amd'), join(root, 'missing'))).toBe(false);
  });
});

import { constants } from 'node:os';
import { describe, expect, it } from 'vitest';
import { Kvm, KvmError, retryInterrupted } from './kvm.ts';
import { OsError } from './sys/libc.ts';

const { EACCES, EEXIST, EINTR, EINVAL, ENOENT } = constants.errno;

describe('KvmError', () => {
  it('tells a user who may not open /dev/kvm what to check', () => {
    const e = new KvmError('KVM_CREATE_VM', EACCES);
    expect(e.message).toBe('KVM_CREATE_VM failed: EACCES (is /dev/kvm readable by this user?)');
    expect(e).toBeInstanceOf(OsError);
    expect(e).toMatchObject({ name: 'KvmError', ioctl: 'KVM_CREATE_VM', errno: EACCES, code: 'EACCES' });
  });

  it('names the ioctl and the errno, with no hint where it has none', () => {
    const e = new KvmError('KVM_SET_GUEST_DEBUG', EINVAL);
    expect(e.message).toBe('KVM_SET_GUEST_DEBUG failed: EINVAL');
    expect(e).toMatchObject({ ioctl: 'KVM_SET_GUEST_DEBUG', errno: EINVAL, code: 'EINVAL' });
  });

  it('says a vCPU id or slot already exists for EEXIST', () => {
    expect(new KvmError('KVM_CREATE_VCPU', EEXIST).message).toBe('KVM_CREATE_VCPU failed: EEXIST (that vCPU id or memory slot already exists)');
  });

  it('points a host without a KVM device at the sandbox', () => {
    const path = '/nonexistent-schedvm-test/kvm';
    let caught: unknown;
    try {
      Kvm.open(path);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(KvmError);
    expect(caught).toMatchObject({
      errno: ENOENT,
      message: `open(${path}) failed: ENOENT (this host has no KVM: run through \`npx schedvm sandbox -- ...\`)`,
    });
  });
});

describe('retryInterrupted', () => {
  it('repeats an ioctl a signal interrupted, and returns what it returns once through', () => {
    const results = [-1, -1, 7];
    let calls = 0;
    expect(
      retryInterrupted(
        'KVM_CREATE_VM',
        () => results[calls++]!,
        () => EINTR,
      ),
    ).toBe(7);
    expect(calls).toBe(3);
  });

  it('throws any other failure at once, naming the ioctl', () => {
    let calls = 0;
    const call = () => {
      calls++;
      return -1;
    };
    expect(() => retryInterrupted('KVM_CREATE_VCPU', call, () => EEXIST)).toThrow(/KVM_CREATE_VCPU failed: EEXIST/);
    expect(calls).toBe(1);
  });
});

import { describe, expect, test } from 'vitest';
import { osCodename, qemuMajor, wantsBackport } from './qemu-fetch.ts';

describe('which QEMU the sandbox runs', () => {
  test('reads the major version QEMU prints', () => {
    expect(qemuMajor('QEMU emulator version 7.2.19 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright')).toBe(7);
    expect(qemuMajor('QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)')).toBe(10);
    expect(qemuMajor('something else')).toBeUndefined();
  });

  test('reads the release codename, quoted or not', () => {
    expect(osCodename('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_CODENAME=bookworm\n')).toBe('bookworm');
    expect(osCodename('VERSION_CODENAME="trixie"\n')).toBe('trixie');
    expect(osCodename('ID=arch\n')).toBeUndefined();
  });

  test("takes the backport only on Debian 12 with its own QEMU 7, unless told to use the system's", () => {
    expect(wantsBackport(7, 'bookworm', {})).toBe(true);
    expect(wantsBackport(10, 'bookworm', {})).toBe(false);
    expect(wantsBackport(7, 'jammy', {})).toBe(false);
    expect(wantsBackport(undefined, 'bookworm', {})).toBe(false);
    expect(wantsBackport(7, 'bookworm', { SCHEDVM_SANDBOX_QEMU: 'system' })).toBe(false);
  });
});

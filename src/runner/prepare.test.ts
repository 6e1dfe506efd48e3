import { describe, expect, it } from 'vitest';
import { kernelPanic } from './prepare.ts';

describe('kernelPanic', () => {
  it('finds the panic line in a console', () => {
    const console = '[ 2.4] RIP: 0010:fpstate_reset+0x1a/0x90\r\n[ 2.4] Kernel panic - not syncing: Attempted to kill the idle task!\r\n[ 2.5] reboot';
    expect(kernelPanic(console)).toBe('Kernel panic - not syncing: Attempted to kill the idle task!');
  });
  it('is undefined for a clean boot', () => {
    expect(kernelPanic('schedvm-init: poweroff\nreboot: Restarting system\n')).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { arm64Watchpoints } from './aarch64/watchpoint-arch.ts';
import { hostWatchpoints } from './arch.ts';
import { x86Watchpoints } from './x86_64/watchpoint-arch.ts';

describe('hostWatchpoints', () => {
  it("picks the implementation by Node's process.arch", () => {
    expect(hostWatchpoints('x64')).toBe(x86Watchpoints);
    expect(hostWatchpoints('arm64')).toBe(arm64Watchpoints);
  });

  it('refuses, when asked, a host architecture with none', () => {
    expect(() => hostWatchpoints('riscv64')).toThrow(expect.objectContaining({ code: 'VMM_HOST', message: expect.stringContaining('riscv64') }));
  });
});

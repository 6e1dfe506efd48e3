import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assembleVcpuLoop, GENERATED, renderVcpuLoopModule } from './assemble.ts';

describe('vcpu-loop.x86_64.ts', () => {
  it('holds what GNU as makes of vcpu-loop.x86_64.S (rewrite it: node --import tsx src/vmm/vcpu/native/assemble.ts)', () => {
    expect(readFileSync(GENERATED, 'utf8')).toBe(renderVcpuLoopModule(assembleVcpuLoop()));
  });
});

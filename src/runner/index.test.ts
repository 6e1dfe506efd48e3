import { expect, it } from 'vitest';
import * as schedvm from './index.ts';

it("importing schedvm registers its matchers on vitest's expect", () => {
  const assertion = schedvm.expect(0) as unknown as Record<string, unknown>;
  for (const m of ['toExitWith', 'toHaveLatched', 'toHaveSchedulerExit']) expect(typeof assertion[m], m).toBe('function');
});

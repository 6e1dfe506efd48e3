import { describe, expect, it } from 'vitest';
import { DEFAULT_ARTIFACTS_DIR, resolveOptions } from './options.ts';

describe('environment options', () => {
  it('fills in defaults (options arrive keyed by the environment name)', () => {
    expect(resolveOptions({}, {})).toEqual({ artifacts: DEFAULT_ARTIFACTS_DIR, console: false });
    expect(resolveOptions({ schedvm: { scenario: 'a.yaml' } }, {})).toEqual({ scenario: 'a.yaml', artifacts: DEFAULT_ARTIFACTS_DIR, console: false });
  });
  it('keeps what the file gives and takes the live console from SCHEDVM_CONSOLE', () => {
    expect(resolveOptions({ schedvm: { artifacts: 'out', console: false } }, { SCHEDVM_CONSOLE: '1' })).toEqual({ artifacts: 'out', console: false });
    expect(resolveOptions({ schedvm: {} }, { SCHEDVM_CONSOLE: '1' }).console).toBe(true);
  });
  it("ignores other environments' options", () => {
    expect(resolveOptions({ jsdom: { url: 'x' } }, {}).scenario).toBeUndefined();
  });
  it('names a bad or unknown option', () => {
    expect(() => resolveOptions({ schedvm: { scenarios: 'a.yaml' } }, {})).toThrow('schedvm environment options: scenarios: unknown option');
    expect(() => resolveOptions({ schedvm: { console: 'yes' } }, {})).toThrow(/console: Invalid input: expected boolean/);
  });
});

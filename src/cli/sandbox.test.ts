import { describe, expect, test } from 'vitest';
import { UserError } from '../errors.ts';
import { parseSandboxArgs } from './sandbox.ts';

describe('parseSandboxArgs', () => {
  test('takes everything after -- as the command, options before it', () => {
    expect(parseSandboxArgs(['--force', '--', 'npx', 'vitest', '--force'])).toEqual({ force: true, argv: ['npx', 'vitest', '--force'] });
    expect(parseSandboxArgs(['--', 'true'])).toEqual({ force: false, argv: ['true'] });
  });

  test('a missing command or an unknown option is a usage error', () => {
    expect(() => parseSandboxArgs([])).toThrow(UserError);
    expect(() => parseSandboxArgs(['--force', '--'])).toThrow(/missing command/);
    expect(() => parseSandboxArgs(['ls'])).toThrow(/unknown option 'ls'/);
  });
});

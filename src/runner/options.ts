// The environment's options. vitest hands setup() either the docblock's options (keyed by the
// environment name) or the config's environmentOptions, never both merged: defaults go here.
import { z } from 'zod';
import { UserError } from '../errors.ts';
import type { TestFileContext, SchedvmOptions } from './types.ts';

export const DEFAULT_ARTIFACTS_DIR = '.schedvm-artifacts';

const optionsSchema = z.strictObject({
  scenario: z.string().min(1).optional(),
  console: z.boolean().optional(),
  artifacts: z.string().min(1).optional(),
});

export function resolveOptions(all: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): TestFileContext['options'] {
  const parsed = optionsSchema.safeParse(all.schedvm ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const field = i.code === 'unrecognized_keys' ? i.keys.join(', ') : i.path.join('.');
      return `${field}: ${i.code === 'unrecognized_keys' ? 'unknown option (known: scenario, console, artifacts)' : i.message}`;
    });
    throw new UserError(`schedvm environment options: ${problems.join('; ')}`);
  }
  const o: SchedvmOptions = parsed.data;
  return {
    ...o,
    artifacts: o.artifacts ?? DEFAULT_ARTIFACTS_DIR,
    console: o.console ?? env.SCHEDVM_CONSOLE === '1',
  };
}

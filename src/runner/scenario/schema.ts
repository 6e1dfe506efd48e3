// The scenario file format: one zod schema, defaults applied here and nowhere else.
import { z } from 'zod';
import { guestNames } from '../../fixtures/guests/build.ts';

export const EXIT_ACTIONS = ['Shutdown', 'Fatal', 'Timeout'] as const;

export const scenarioSchema = z
  .strictObject({
    name: z.string().min(1).describe('Scenario name, shown in reports.'),
    guest: z
      .string()
      .refine((g) => guestNames().includes(g), { error: () => `must be one of: ${guestNames().join(', ')}` })
      .describe('Bare-metal guest from src/fixtures/guests (a .S file name without extension).'),
    vcpus: z.int().min(1).max(255).default(1).describe('Number of vCPUs.'),
    memory_mb: z.int().min(8).max(3072).default(64).describe('Guest RAM in MiB.'),
    timeout_s: z.number().positive().max(86_400).default(30).describe('The VM is stopped (exit action Timeout) after this many seconds.'),
    guest_arg: z.int().min(0).max(0xffff_ffff).optional().describe('Value passed to the guest in rdx (port-flood: number of port writes).'),
    expect: z
      .strictObject({
        exit_action: z.enum(EXIT_ACTIONS).default('Shutdown').describe('Exit action that counts as a pass for `schedvm run`.'),
      })
      .default({ exit_action: 'Shutdown' })
      .describe('What a passing run looks like.'),
  })
  .describe('A schedvm scenario: one VM and what is expected of it.');

export type Scenario = z.output<typeof scenarioSchema>;
export type ScenarioInput = z.input<typeof scenarioSchema>;

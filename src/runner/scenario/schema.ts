// The scenario file format: one zod schema, defaults applied here and nowhere else.
import { z } from 'zod';
import { guestNames } from '../../fixtures/guests/build.ts';

export const EXIT_ACTIONS = ['Shutdown', 'Fatal', 'Timeout'] as const;

const u64 = z
  .union([z.int().min(0), z.string().regex(/^(0x[0-9a-fA-F]{1,16}|[0-9]{1,20})$/, 'expected an integer or a 0x-prefixed hex string')])
  .transform((v, ctx) => {
    const n = BigInt(v);
    if (n >= 1n << 64n) ctx.addIssue({ code: 'custom', message: 'does not fit in 64 bits' });
    return n;
  });

export const watchpointSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z_][\w.-]*$/, 'expected a name like exit_kind or my-watch').describe('Key of this watchpoint in the result.'),
    address: u64.describe('Guest address to watch (bare-metal guests: guest-physical). Hex as a quoted string above 2^53.'),
    len: z.union([z.literal(1), z.literal(2), z.literal(4), z.literal(8)]).default(4).describe('Bytes watched; the address must be aligned to it.'),
    on: z.enum(['write', 'readwrite']).default('write').describe('Trigger on writes, or on reads and writes.'),
    kind: z.enum(['exit_kind', 'user']).default('user').describe('exit_kind (slot 0) latches only when the u32 written is >= 1024 (SCX_EXIT_ERROR); user slots latch on any access.'),
    freeze: z.boolean().default(false).describe('On the first latch, freeze every vCPU and snapshot its registers; the guest then resumes.'),
  })
  .refine((w) => w.address % BigInt(w.len) === 0n, { error: (i) => `address must be aligned to len (${(i.input as { len: number }).len})`, path: ['address'] });

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
    watchpoints: z
      .array(watchpointSchema)
      .max(4, 'at most 4 watchpoints (the x86 debug registers DR0..DR3)')
      .default([])
      .superRefine((ws, ctx) => {
        const ek = ws.flatMap((w, i) => (w.kind === 'exit_kind' ? [i] : []));
        if (ek.length > 1) ctx.addIssue({ code: 'custom', path: [ek[1]!, 'kind'], message: 'only one watchpoint may have kind exit_kind (it owns slot 0)' });
        if (ws.length - ek.length > 3) ctx.addIssue({ code: 'custom', path: [3], message: 'at most 3 user watchpoints (slots 1..3)' });
        const seen = new Set<string>();
        ws.forEach((w, i) => {
          if (seen.has(w.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `the name '${w.name}' is used twice` });
          seen.add(w.name);
        });
      })
      .describe('Hardware watchpoints; their hits are latched into the result.'),
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

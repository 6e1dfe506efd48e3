// `monitor:` (the host samples every guest CPU's runqueue from guest memory) and its gates.
import { z } from 'zod';

export const monitorSchema = z
  .strictObject({
    hz: z.int().min(1).max(1000).default(100).describe('Samples per second (each reads every CPU: nr_running, the running task, the clock).'),
  })
  .describe("The host samples every guest CPU's runqueue out of guest memory while the guest runs (Linux guests; no guest cooperation, no vCPU stopped). The samples are in the result's monitor.");

export const monitorGatesSchema = z
  .strictObject({
    max_rq_stall_ms: z
      .number()
      .positive()
      .optional()
      .describe(
        'Longest an online CPU may run its idle task, its vCPU halted, while its runqueue holds runnable tasks (a scheduler that stalls them); a stretch over 4x this fails whatever the vCPU did.',
      ),
    max_clock_stall_ms: z
      .number()
      .positive()
      .optional()
      .describe("Longest a runqueue's clock may stand still while its CPU is online with runnable tasks (in the sandbox, leave room: a vCPU the host does not run looks the same)."),
    max_imbalance_ms: z.number().positive().optional().describe('Longest one online CPU may hold 2 or more runnable tasks while another online CPU idles with none.'),
  })
  .describe("Gates over the monitor's samples (needs monitor).");

export type MonitorSpec = z.output<typeof monitorSchema>;
export type MonitorGates = z.output<typeof monitorGatesSchema>;

// `schedvm demo`: the smp guest on 4 vCPUs, console live (through the sandbox when needed).
import { fileURLToPath } from 'node:url';
import { main as run } from './run.ts';

export async function main(args: string[]): Promise<number> {
  const scenario = fileURLToPath(new URL('../../scenarios/bare/smp.yaml', import.meta.url));
  process.stderr.write(`schedvm demo: booting ${scenario} (4 vCPUs, each greets on COM1)\n`);
  return run([scenario, ...args]);
}

// `schedvm validate <files...>`: loads each scenario (extends resolved) and reports every
// problem as file:line:column: field: message; exits 1 when any file is broken.
import { loadScenario } from '../runner/scenario/load.ts';
import { gauntletOf, isGauntlet } from '../runner/scenario/gauntlet.ts';
import { kernelLabel } from '../fixtures/kernels/resolve.ts';
import { UserError } from '../errors.ts';

export async function main(args: string[]): Promise<number> {
  if (args.length === 0 || args.includes('--help') || args.includes('-h')) {
    process.stderr.write('usage: schedvm validate <scenario.yaml...>\n');
    return args.length === 0 ? 2 : 0;
  }
  let broken = 0;
  for (const file of args) {
    try {
      const s = loadScenario(file);
      const runs = gauntletOf(s);
      const what = isGauntlet(s) ? `gauntlet of ${runs.length}: ${runs.map((r) => r.name).join(', ')}` : `${s.vcpus} vCPU${s.vcpus === 1 ? '' : 's'}`;
      process.stdout.write(
        `ok ${file}: ${s.name} (${s.guest !== undefined ? `guest ${s.guest}` : s.kernels ? `kernels ${s.kernels.map(kernelLabel).join(', ')}` : `kernel ${kernelLabel(s.kernel!)}`}, ${what})\n`,
      );
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      broken++;
      process.stdout.write(`${e.message}\n`);
    }
  }
  if (broken > 0) process.stderr.write(`schedvm validate: ${broken} of ${args.length} file${args.length === 1 ? '' : 's'} broken\n`);
  return broken > 0 ? 1 : 0;
}

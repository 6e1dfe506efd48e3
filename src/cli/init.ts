// `schedvm init`: scaffolds schedvm into the current project (a scenario, a test file, a vitest
// config) without touching a file that is there already, then prints the commands to run.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { UserError } from '../errors.ts';
import { type InitChoices, scenarioTemplate, testTemplate, vitestConfigTemplate } from './init-templates.ts';

const USAGE = 'usage: schedvm init [--dir DIR] [--scheduler scx_NAME | --binary PATH]';

export interface InitOutcome {
  written: string[];
  /** Files that were there already: left as they were. */
  kept: string[];
}

/** Writes the scaffold under `root`; `binary` is relative to `root`. */
export function scaffold(root: string, dir: string, scheduler: { name: string } | { binary: string }): InitOutcome {
  if (dir.startsWith('/') || dir.split(/[\\/]/).includes('..')) throw new UserError(`--dir ${dir}: give a directory inside the project (relative, no '..')`);
  const scenarioDir = join(root, dir);
  const fromScenario = (p: string) => relative(scenarioDir, resolve(root, p)) || '.';
  const choices: InitChoices = {
    dir,
    scheduler: 'binary' in scheduler ? { binary: fromScenario(scheduler.binary) } : scheduler,
    schemaPath: fromScenario('node_modules/schedvm/schema/scenario.schema.json'),
  };
  const scenario = `${dir}/scheduler.yaml`;
  // vitest 4 reads its config from vitest.config.* or vite.config.* (and no longer vitest.workspace.*).
  const config = readdirSync(root).find((f) => /^(vitest|vite)\.config\.[cm]?[jt]s$/.test(f));
  const hasVitestConfig = config !== undefined;
  const files: Array<[string, string]> = [
    [scenario, scenarioTemplate(choices)],
    [`${dir}/scheduler.test.ts`, testTemplate(scenario)],
    ...(hasVitestConfig ? [] : [['vitest.config.ts', vitestConfigTemplate(dir)] as [string, string]]),
  ];
  const outcome: InitOutcome = { written: [], kept: config !== undefined ? [config] : [] };
  try {
    mkdirSync(scenarioDir, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw new UserError(`--dir ${dir}: a file of that name is in the way; give a directory`);
    throw e;
  }
  for (const [file, text] of files) {
    try {
      writeFileSync(join(root, file), text, { flag: 'wx' }); // never over a file of yours
      outcome.written.push(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      outcome.kept.push(file);
    }
  }
  return outcome;
}

export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { dir: { type: 'string' }, scheduler: { type: 'string' }, binary: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stderr.write(`${USAGE}\n`);
    return 0;
  }
  if (values.scheduler !== undefined && values.binary !== undefined) throw new UserError(`give --scheduler or --binary, not both\n${USAGE}`);
  if (values.scheduler !== undefined && !/^scx_\w+$/.test(values.scheduler)) throw new UserError(`--scheduler ${values.scheduler}: expected a built scheduler's name like scx_simple`);
  const dir = values.dir ?? 'schedvm';
  const { written, kept } = scaffold(process.cwd(), dir, values.binary !== undefined ? { binary: values.binary } : { name: values.scheduler ?? 'scx_simple' });
  for (const f of written) process.stdout.write(`wrote ${f}\n`);
  for (const f of kept) process.stdout.write(`kept ${f} (it exists; ${/^vite(st)?\.config\./.test(f) ? `include '${dir}/**/*.test.ts' with pool 'forks' there` : 'not overwritten'})\n`);
  process.stdout.write(
    [
      '',
      'Then:',
      `  npx schedvm run ${dir}/scheduler.yaml`,
      '      boots it once: console live, gates checked',
      '  npx vitest run',
      '      runs the tests (without a usable /dev/kvm: npx schedvm sandbox -- npx vitest run)',
      '',
    ].join('\n'),
  );
  return 0;
}

// `schedvm <command> [...]`: the user's CLI.
import { commands, usage } from './commands.ts';
import { dispatch } from './dispatch.ts';

process.exitCode = await dispatch('schedvm', commands, usage, process.argv.slice(2));

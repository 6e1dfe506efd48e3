// `schedvm <command> [...]`: each command is a module exporting `main(args)`.
import { commands, usage } from './commands.ts';

const [name, ...rest] = process.argv.slice(2);
const load = name ? commands[name] : undefined;
if (!load) {
  console.error(name && name !== '--help' && name !== '-h' ? `schedvm: unknown command '${name}'\n${usage}` : usage);
  process.exitCode = name === '--help' || name === '-h' ? 0 : 2;
} else {
  try {
    process.exitCode = await (await load()).main(rest);
  } catch (err) {
    // Expected user-facing errors carry their own message; anything else keeps its stack.
    const e = err as Error & { userFacing?: boolean };
    console.error(`schedvm ${name}: ${e.userFacing ? e.message : (e.stack ?? String(e))}`);
    process.exitCode = 1;
  }
}

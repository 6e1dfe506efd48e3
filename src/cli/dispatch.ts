// Runs `<prog> <command> [...]` from a table of commands, each a module exporting `main(args)`.
export type Commands = Record<string, () => Promise<{ main(args: string[]): Promise<number> }>>;

export async function dispatch(prog: string, commands: Commands, usage: string, argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const load = name ? commands[name] : undefined;
  if (!load) {
    console.error(name && name !== '--help' && name !== '-h' ? `${prog}: unknown command '${name}'\n${usage}` : usage);
    return name === '--help' || name === '-h' ? 0 : 2;
  }
  try {
    return await (await load()).main(rest);
  } catch (err) {
    // Expected user-facing errors carry their own message; anything else keeps its stack.
    const e = err as Error & { userFacing?: boolean };
    console.error(`${prog} ${name}: ${e.userFacing ? e.message : (e.stack ?? String(e))}`);
    return 1;
  }
}

// The user's commands: each a module exporting `main(args)`, loaded when it runs.
import type { Commands } from './dispatch.ts';

export const commands: Commands = {
  run: () => import('./run.ts'),
  validate: () => import('./validate.ts'),
  sandbox: () => import('./sandbox.ts'),
  kernel: () => import('./kernel.ts'),
  init: () => import('./init.ts'),
};

export const usage = `usage: schedvm <command> [args]
  init [--dir DIR] [--scheduler scx_NAME | --binary PATH]
                                               scaffold a scenario, a test and a vitest config here
  run <scenario.yaml> [--json] [--timeout S]   boot a scenario's VM, stream its console
  validate <scenario.yaml...>                  check scenarios; every problem as file:line:column: field: message
  sandbox [--force] -- <cmd...>                run a command where /dev/kvm works
  kernel fetch [debian-sched-ext|host|<path>]  fetch (once) and describe a guest kernel; kernel list: cached ones`;

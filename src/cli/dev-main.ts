// `node scripts/dev.mjs <command>`: this repository's maintainer commands, not in the user's CLI.
import type { Commands } from './dispatch.ts';
import { dispatch } from './dispatch.ts';

const commands: Commands = {
  test: () => import('./test.ts'),
  demo: () => import('./demo.ts'),
  docs: () => import('./docs.ts'),
};

const usage = `usage: node scripts/dev.mjs <command>
  test   install what is needed, run every test (npm test)
  demo   run examples/linux-topology.test.ts with its guest's console live (npm run demo)
  docs   regenerate the README scenario reference and the JSON Schema`;

process.exitCode = await dispatch('dev.mjs', commands, usage, process.argv.slice(2));

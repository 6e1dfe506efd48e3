// The vitest environment `schedvm`: one VM per test file, booted from the scenario in the
// environment options, published on the global for the fixtures, freed in teardown.
import type { Environment } from 'vitest/runtime';
import { Host, withoutStack } from './host.ts';
import { resolveOptions } from './options.ts';
import { HOST_KEY } from './types.ts';

const environment: Environment = {
  name: 'schedvm',
  viteEnvironment: 'ssr',
  setup(global: Record<PropertyKey, unknown>, options) {
    let host: Host;
    try {
      host = new Host(resolveOptions(options));
    } catch (e) {
      // Bad options: the file fails when it imports schedvm, with this message alone.
      host = new Host({ artifacts: '' });
      host.error = withoutStack(e as Error);
    }
    global[HOST_KEY] = host;
    // vitest stops a forks worker through its IPC channel; when the parent dies first (killed,
    // or a SIGINT that reached only it) the channel closes and a running VM would keep this
    // orphan alive: free everything and go.
    const orphaned = () => void host.close().finally(() => process.exit(130));
    process.once('disconnect', orphaned);
    return {
      async teardown(g: Record<PropertyKey, unknown>) {
        process.off('disconnect', orphaned);
        await host.close();
        delete g[HOST_KEY];
      },
    };
  },
};

export default environment;

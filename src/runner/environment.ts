// The vitest environment `schedvm`: one VM per test file, booted from the scenario in the
// environment options, published on the global for the fixtures, freed in teardown.
import type { Environment } from 'vitest/runtime';
import { TestFileVms, withoutStack } from './test-file-vms.ts';
import { resolveOptions } from './options.ts';
import { TEST_FILE_KEY } from './types.ts';

const environment: Environment = {
  name: 'schedvm',
  viteEnvironment: 'ssr',
  setup(global: Record<PropertyKey, unknown>, options) {
    let files: TestFileVms;
    try {
      files = new TestFileVms(resolveOptions(options));
    } catch (e) {
      // Bad options: the file fails when it imports schedvm, with this message alone.
      files = new TestFileVms({ artifacts: '' });
      files.error = withoutStack(e as Error);
    }
    global[TEST_FILE_KEY] = files;
    // vitest stops a forks worker through its IPC channel; when the parent dies first (killed,
    // or a SIGINT that reached only it) the channel closes and a running VM would keep this
    // orphan alive: free everything and go.
    const orphaned = () => void files.close().finally(() => process.exit(130));
    process.once('disconnect', orphaned);
    return {
      async teardown(g: Record<PropertyKey, unknown>) {
        process.off('disconnect', orphaned);
        await files.close();
        delete g[TEST_FILE_KEY];
      },
    };
  },
};

export default environment;

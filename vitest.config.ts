import { defineConfig } from 'vitest/config';
import { sourceAlias } from './vitest.source.ts';

// `unit` needs nothing but node; `kvm` and `examples` need a usable /dev/kvm (the host's, or
// the sandbox's: see src/sandbox); `host` needs this host's tools or network.
export default defineConfig({
  resolve: { alias: sourceAlias },
  test: {
    // The slow reporter names long-running KVM files every minute (see src/runner/slow-reporter.ts).
    reporters: ['default', './src/runner/slow-reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'bench/**/*.test.ts'],
          exclude: ['**/*.kvm.test.ts', '**/*.host.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          // Needs this host's tools or network (QEMU for the sandbox itself, kernel downloads)
          // but no KVM: runs on the host, never inside the sandbox.
          name: 'host',
          include: ['src/**/*.host.test.ts'],
          testTimeout: 600_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'kvm',
          include: ['src/**/*.kvm.test.ts'],
          pool: 'forks',
          testTimeout: 600_000,
          hookTimeout: 600_000,
        },
      },
      {
        extends: true,
        test: {
          // The files a new user copies: each runs in the schedvm environment (one VM per file).
          name: 'examples',
          include: ['examples/**/*.test.ts'],
          pool: 'forks',
          testTimeout: 600_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});

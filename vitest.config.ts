import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs nothing but node; `kvm` needs a usable /dev/kvm
// (the host's, or the sandbox's: see src/sandbox).
export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts'],
          exclude: ['src/**/*.kvm.test.ts', 'src/**/*.net.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          // Downloads from the package registries (kernels); no KVM needed.
          name: 'net',
          include: ['src/**/*.net.test.ts'],
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
    ],
  },
});

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/global.ts'],
    testTimeout: 60_000,
    hookTimeout: 600_000,
    pool: 'forks',
    // Two cores: parallel files help a little; GNU-parity and bench-sized trees are I/O bound.
    maxWorkers: 2,
    reporters: ['default'],
    // CLI runs in tests leave no persistent SSH connections behind; test/ssh/e2e/mux.test.ts turns them on.
    env: { CLUSTRIX_PERSIST_MS: '0' },
  },
});

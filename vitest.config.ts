import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/harness/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 60_000,
    pool: 'forks',
    // The services run on the same (2-core) machine: keep parallelism modest.
    maxWorkers: 2,
    env: {
      // Static, fake credentials: tests only ever talk to the local moto_server.
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'us-east-1',
    },
    reporters: ['default', ['json', { outputFile: '.tmp/vitest-results.json' }]],
  },
});

import { defineConfig } from 'vitest/config'

// The real-browser suite: Debian chromium driven by playwright-core against the web bridge.
export default defineConfig({
  test: {
    include: ['tests/e2e/**/*.test.ts'],
    environment: 'node',
    testTimeout: 180_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
})

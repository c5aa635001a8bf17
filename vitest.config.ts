import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Servers on loopback and real timers: give slow CI machines room, never rely on sleeps.
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});

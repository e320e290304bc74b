import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (path: string) => fileURLToPath(new URL(`./src/${path}`, import.meta.url));

export default defineConfig({
  resolve: {
    // The lab (packages/lab) imports the engine as 'gradscope'; in tests that is the engine's
    // sources, the same modules the engine's own tests import, so there is one registry, one
    // Tensor class and one backend (tsconfig.json's paths say the same to the type checker).
    alias: [
      { find: /^gradscope$/, replacement: src('index.ts') },
      { find: /^gradscope\/io$/, replacement: src('io/index.ts') },
      { find: /^gradscope\/data$/, replacement: src('data/index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
  },
});

/**
 * The browser end-to-end tests (`npm run test:browser`): they load the built playground in
 * headless Chromium (Debian's package, driven by playwright-core) and compare what each panel
 * shows with the same computation run here in Node. Not part of `npm test` (its config only
 * picks up test/**\/*.test.ts); these files end in .e2e.ts.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/browser/**/*.e2e.ts'],
    globalSetup: ['test/browser/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});

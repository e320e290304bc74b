/**
 * The playground's browser end-to-end tests (test/browser/*.e2e.ts) are not part of `npm test`:
 * they need a build and Debian's Chromium, and run with `npm run test:browser` (.ci/run installs
 * Chromium and runs them after `npm test`). This file says so in the `npm test` output, and says
 * clearly when they could not run here because no Chromium is present.
 */
import { describe, it } from 'vitest';
import { findChromium, NO_CHROMIUM_MESSAGE } from '../browser/chromium.js';

const chromium = findChromium();

describe('playground browser e2e tests', () => {
  if (!chromium) {
    console.warn(NO_CHROMIUM_MESSAGE);
    it.skip(NO_CHROMIUM_MESSAGE, () => undefined);
  } else {
    it(`run separately with \`npm run test:browser\` (Chromium found at ${chromium})`, () => undefined);
  }
});

/**
 * Where the browser tests find Chromium: $CHROMIUM_PATH, else Debian's /usr/bin/chromium (or
 * chromium-browser). No browser is ever downloaded: playwright-core drives the system one.
 */
import { existsSync } from 'node:fs';

export const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

export function findChromium(): string | null {
  const fromEnv = process.env['CHROMIUM_PATH'];
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : null;
  return CHROMIUM_CANDIDATES.find((p) => existsSync(p)) ?? null;
}

export const NO_CHROMIUM_MESSAGE =
  `browser e2e tests skipped: no Chromium found (looked at $CHROMIUM_PATH and ${CHROMIUM_CANDIDATES.join(', ')}). ` +
  'Install Debian\'s package (`sudo apt-get install -y chromium`) and run `npm run test:browser` (.ci/run does both).';

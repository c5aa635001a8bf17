// Debian's Chromium for browser tests, driven by playwright-core (never a downloaded browser).
// Without it a browser suite is skipped with a notice; with IDSTITCH_REQUIRE_BROWSER=1 (CI) a
// missing browser is a failure instead.
import { existsSync } from 'node:fs';
import { describe, it } from 'vitest';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
/** Headless, and no background networking: this machine's closed network refuses it anyway. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
export const INSTALL_CHROMIUM = 'apt-get update && apt-get install -y chromium';
export const chromiumAvailable = existsSync(CHROMIUM);

/** Warns (or, under IDSTITCH_REQUIRE_BROWSER=1, fails) when `suite` cannot run for want of Chromium. */
export function requireChromium(suite: string): void {
  if (chromiumAvailable) return;
  if (process.env.IDSTITCH_REQUIRE_BROWSER !== '1') {
    console.warn(`\n  ⚠ Skipping ${suite}: no Chromium at ${CHROMIUM}. Install it with: ${INSTALL_CHROMIUM}\n`);
    return;
  }
  describe(suite, () => {
    it('needs Chromium, since IDSTITCH_REQUIRE_BROWSER=1', () => {
      throw new Error(`IDSTITCH_REQUIRE_BROWSER=1 but there is no Chromium at ${CHROMIUM}; install it with: ${INSTALL_CHROMIUM}`);
    });
  });
}

// Clicks through the Express example (examples/express) in real headless Chromium — Debian's package,
// driven by playwright-core, never a downloaded browser — against the local collector, and checks
// what the collector derived. Flows: browse anonymously, sign up (Ada), log out, sign up a second
// user (Grace) in the same browser; then, in a second browser profile, log in as Ada (returning user
// on a new device). Without /usr/bin/chromium it is skipped with a notice, unless
// IDSTITCH_REQUIRE_BROWSER=1 (CI), which turns the missing browser into a failure.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, CHROMIUM_ARGS, INSTALL_CHROMIUM, chromiumAvailable, requireChromium } from '../support/chromium.js';
import { startCollector, type Collector } from '../../src/collector/index.js';
import type { IdstitchError } from '../../src/index.js';
import { createApp } from '../../examples/express/app.js';

const PASSWORD = 'correct horse battery staple';
requireChromium('the Express example in Chromium');

/** The ids the example's "who am I" page shows; '—' means none. */
async function whoami(page: Page, base: string): Promise<{ deviceId: string; userId: string | undefined }> {
  await page.goto(`${base}/whoami`);
  const deviceId = (await page.locator('#device-id').textContent())?.trim() ?? '';
  const userId = (await page.locator('#user-id').textContent())?.trim();
  return { deviceId, userId: userId === '—' ? undefined : userId };
}

async function signUp(page: Page, base: string, name: string, email: string): Promise<void> {
  await page.goto(`${base}/signup`);
  await page.fill('#name', name);
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(`${base}/whoami`), page.click('button[type=submit]')]);
}

describe.skipIf(!chromiumAvailable)(
  `the Express example in Chromium (${chromiumAvailable ? CHROMIUM : `skipped: ${INSTALL_CHROMIUM}`})`,
  () => {
    let browser: Browser;
    let collector: Collector;
    let tracker: ReturnType<typeof createApp>['tracker'];
    let server: Server;
    let base: string;
    const errors: IdstitchError[] = [];

    beforeAll(async () => {
      collector = await startCollector({ port: 0 });
      const example = createApp({
        apiHost: collector.url,
        token: 'example',
        collectorUrl: collector.url,
        trackerOptions: { flushIntervalMs: 200, onError: (error) => errors.push(error) },
      });
      tracker = example.tracker;
      server = example.app.listen(0, '127.0.0.1');
      await new Promise<void>((resolve) => server.once('listening', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    });

    afterAll(async () => {
      await browser?.close();
      server?.close();
      await tracker?.shutdown({ timeoutMs: 2000 });
      await collector?.close();
    });

    const api = async <T>(path: string): Promise<T> => (await (await fetch(collector.url + path)).json()) as T;
    type Identity = { distinct_id: string; user_id: string | null; device_ids: string[] };
    type Feed = {
      events: Array<{ event: string; device_id: string | null; user_id: string | null; original_distinct_id: string; distinct_id: string }>;
    };

    it('stitches anonymous browsing to sign-up, keeps two users on one browser apart, and links a returning user’s new device', async () => {
      const first = await browser.newContext();
      const page = await first.newPage();
      await page.goto(`${base}/`);
      await page.goto(`${base}/pricing`);
      const anonymous = await whoami(page, base);
      expect(anonymous.deviceId).toMatch(/^[0-9a-f-]{36}$/);
      expect(anonymous.userId).toBeUndefined();

      await signUp(page, base, 'Ada Lovelace', 'ada@example.com');
      const ada = await whoami(page, base);
      expect(ada.deviceId).toBe(anonymous.deviceId); // login never rotates: the link needs the same device
      expect(ada.userId).toBeDefined();

      await Promise.all([page.waitForURL(`${base}/`), page.click('#logout')]);
      const afterLogout = await whoami(page, base);
      expect(afterLogout.deviceId).not.toBe(ada.deviceId); // logout rotates, like the SDK's reset()
      expect(afterLogout.userId).toBeUndefined();

      await page.goto(`${base}/`);
      await signUp(page, base, 'Grace Hopper', 'grace@example.com');
      const grace = await whoami(page, base);
      expect(grace.deviceId).toBe(afterLogout.deviceId);
      expect(grace.userId).not.toBe(ada.userId);

      const second = await browser.newContext();
      const other = await second.newPage();
      await other.goto(`${base}/pricing`);
      const newDevice = await whoami(other, base);
      await other.goto(`${base}/login`);
      await other.fill('#email', 'ada@example.com');
      await other.fill('#password', PASSWORD);
      await Promise.all([other.waitForURL(`${base}/whoami`), other.click('button[type=submit]')]);
      expect(await whoami(other, base)).toEqual({ deviceId: newDevice.deviceId, userId: ada.userId });

      await tracker.flush();
      const adaCluster = await api<Identity>(`/api/identity/${encodeURIComponent(ada.userId!)}`);
      const graceCluster = await api<Identity>(`/api/identity/${encodeURIComponent(grace.userId!)}`);
      expect(adaCluster.device_ids).toEqual([ada.deviceId, newDevice.deviceId].sort());
      expect(graceCluster.device_ids).toEqual([grace.deviceId]);

      const adaFeed = await api<Feed>(`/api/events?distinct_id=${encodeURIComponent(ada.userId!)}`);
      const firstView = adaFeed.events.find((e) => e.event === 'Viewed Home' && e.device_id === ada.deviceId);
      expect(firstView).toMatchObject({ original_distinct_id: `$device:${ada.deviceId}`, distinct_id: ada.userId }); // retroactive
      expect(adaFeed.events.find((e) => e.event === 'Logged Out')).toMatchObject({ user_id: ada.userId, device_id: ada.deviceId });
      const graceFeed = await api<Feed>(`/api/events?distinct_id=${encodeURIComponent(grace.userId!)}`);
      expect(graceFeed.events.find((e) => e.event === 'Viewed Home')).toMatchObject({
        device_id: grace.deviceId,
        distinct_id: grace.userId,
      });
      expect(graceFeed.events.some((e) => e.device_id === ada.deviceId)).toBe(false);
      expect(errors).toEqual([]);

      // The collector's page, as a person would open it from the example's header link.
      await page.goto(`${collector.url}/`);
      await expect(page.locator('body').textContent()).resolves.toContain(ada.userId!);
      await first.close();
      await second.close();
    });
  },
);

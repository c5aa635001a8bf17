// Hybrid client + server, proven with the real thing: the npm package mixpanel-browser
// (its ESM build, what bundlers give `import mixpanel from 'mixpanel-browser'`), served by the app
// itself and run in Debian's headless Chromium, sends to the local collector next to an Express app
// with `deviceIdFrom: 'mixpanel-browser'`. Client and server events must carry one $device_id and
// resolve to one cluster; after login both sides resolve to the user; after logout and the page's
// mixpanel.reset(), the next visitor starts anew. No network beyond loopback, no CDN.
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import express, { type Request } from 'express';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identifyUser, identityOf, resetUser, tracking, type TrackingMiddleware } from '../adapters/express.js';
import { startCollector, type Collector } from '../src/collector/index.js';
import type { IdstitchError } from '../src/index.js';
import { CHROMIUM, CHROMIUM_ARGS, INSTALL_CHROMIUM, chromiumAvailable, requireChromium } from './support/chromium.js';

requireChromium('mixpanel-browser and idstitch in Chromium');

const TOKEN = 'f00dfeedcafe0123456789abcdef0123';
const USER = 'user-42';
/** The npm package's ESM entry (package.json `module`), as a bundler would include it. */
const SDK_BUNDLE = join(dirname(createRequire(import.meta.url).resolve('mixpanel-browser')), 'mixpanel.module.js');

type Identity = { distinct_id: string; user_id: string | null; device_ids: string[] };
type Feed = {
  events: Array<{ event: string; device_id: string | null; user_id: string | null; distinct_id: string; original_distinct_id: string }>;
};

/** A hybrid site: the page runs the SDK against the collector, the server tracks with idstitch. */
function hybridApp(collector: Collector, middleware: TrackingMiddleware): express.Express {
  const app = express();
  const sdk = readFileSync(SDK_BUNDLE);
  app.get('/vendor/mixpanel-browser.js', (_req, res) => {
    res.type('text/javascript').send(sdk);
  });
  // Chromium asks for it on its own, at a moment of its choosing: kept out of the counts below.
  app.get('/favicon.ico', (_req, res) => {
    res.status(204).end();
  });
  app.use(middleware);
  app.get('/', (req, res) => {
    req.track('Server Page Served');
    res.type('html').send(`<!doctype html><meta charset="utf-8"><title>hybrid</title>
<script type="module">
  import mixpanel from '/vendor/mixpanel-browser.js';
  // persistence: 'cookie' is the SDK's default; said here because the server depends on it.
  // One request per event (no batching), so each track's callback means the collector answered.
  mixpanel.init(${JSON.stringify(TOKEN)}, { api_host: ${JSON.stringify(collector.url)}, persistence: 'cookie', batch_requests: false });
  window.mixpanel = mixpanel;
  window.clientTrack = (event) => new Promise((resolve) => mixpanel.track(event, {}, resolve));
  window.ready = true;
</script>`);
  });
  app.post('/api/action', (req, res) => {
    req.track('Server Action');
    res.json(identityOf(req));
  });
  app.post('/api/login', (req, res) => {
    res.cookie('session', USER, { httpOnly: true, sameSite: 'lax' });
    identifyUser(req, USER);
    res.json(identityOf(req));
  });
  app.post('/api/logout', (req, res) => {
    req.track('Logged Out');
    resetUser(req);
    res.clearCookie('session');
    res.json(identityOf(req));
  });
  return app;
}

describe.skipIf(!chromiumAvailable)(
  `mixpanel-browser and idstitch share one device id (${chromiumAvailable ? CHROMIUM : `skipped: ${INSTALL_CHROMIUM}`})`,
  () => {
    let collector: Collector;
    let middleware: TrackingMiddleware;
    let server: Server;
    let browser: Browser;
    let base: string;
    const errors: IdstitchError[] = [];
    const collectorErrors: Error[] = [];

    beforeAll(async () => {
      // With the token set, the collector refuses /track records carrying another one, and /import without it.
      collector = await startCollector({ port: 0, token: TOKEN, onError: (error) => collectorErrors.push(error) });
      middleware = tracking({
        apiHost: collector.url,
        token: TOKEN,
        deviceIdFrom: 'mixpanel-browser',
        getUserId: (req: Request) => (req.headers.cookie?.match(/(?:^|;\s*)session=([^;]+)/) ?? [])[1],
        flushIntervalMs: 50,
        onError: (error) => errors.push(error),
      });
      server = hybridApp(collector, middleware).listen(0, '127.0.0.1');
      await new Promise<void>((resolve) => server.once('listening', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    });

    afterAll(async () => {
      await browser?.close();
      server?.close();
      await middleware?.tracker.shutdown({ timeoutMs: 2000 });
      await collector?.close();
    });

    const api = async <T>(path: string): Promise<T> => {
      const response = await fetch(collector.url + path, {
        headers: { authorization: `Basic ${Buffer.from(`${TOKEN}:`).toString('base64')}` },
      });
      expect(response.status).toBe(200);
      return (await response.json()) as T;
    };
    const feed = async (distinctId: string): Promise<Feed['events']> =>
      (await api<Feed>(`/api/events?distinct_id=${encodeURIComponent(distinctId)}`)).events;
    /** A same-origin request from the page, so the browser sends its cookies as it would for any app call. */
    const post = (page: Page, path: string) =>
      page.evaluate(async (url) => (await fetch(url, { method: 'POST' })).json() as Promise<{ deviceId: string; userId?: string }>, path);
    const clientTrack = (page: Page, event: string) =>
      page.evaluate((name) => (globalThis as unknown as { clientTrack(n: string): Promise<unknown> }).clientTrack(name), event);
    const sdkProperty = (page: Page, name: string) =>
      page.evaluate(
        (key) => (globalThis as unknown as { mixpanel: { get_property(k: string): unknown } }).mixpanel.get_property(key),
        name,
      );
    const open = async (page: Page): Promise<void> => {
      await page.goto(`${base}/`);
      await page.waitForFunction(() => (globalThis as unknown as { ready?: boolean }).ready === true);
    };

    it('client and server events carry one $device_id, link to the user on login, and part on logout + reset()', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();

      // First visit: the SDK has not run yet, so the server falls back to idstitch's own cookie.
      await open(page);
      const cookies = await context.cookies(base);
      const sdkCookie = cookies.find((c) => c.name === `mp_${TOKEN}_mixpanel`);
      expect(sdkCookie, 'the SDK persists to a cookie').toBeDefined();
      expect(sdkCookie!.httpOnly).toBe(false);
      const deviceId = (await sdkProperty(page, '$device_id')) as string;
      expect(deviceId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(JSON.parse(decodeURIComponent(sdkCookie!.value))).toMatchObject({ $device_id: deviceId, distinct_id: `$device:${deviceId}` });
      const fallback = cookies.find((c) => c.name === 'idstitch_device')?.value;
      expect(fallback).toBeDefined();
      expect(fallback).not.toBe(deviceId);

      // Anonymous: one client event, then one server event in the next request.
      expect(await clientTrack(page, 'Client Clicked')).toBe(1);
      expect(await post(page, '/api/action')).toEqual({ deviceId });
      await middleware.tracker.flush();
      const anonymous = await feed(`$device:${deviceId}`);
      expect(anonymous.map((e) => e.event).sort()).toEqual(['Client Clicked', 'Server Action']);
      expect(anonymous.every((e) => e.device_id === deviceId && e.distinct_id === `$device:${deviceId}`)).toBe(true);
      expect(await api<Identity>(`/api/identity/${encodeURIComponent(`$device:${deviceId}`)}`)).toMatchObject({
        user_id: null,
        device_ids: [deviceId],
      });

      // Login: the server links the SDK's device to the user; the page identifies as the SDK requires.
      expect(await post(page, '/api/login')).toEqual({ deviceId, userId: USER });
      await page.evaluate((id) => (globalThis as unknown as { mixpanel: { identify(u: string): void } }).mixpanel.identify(id), USER);
      expect(await clientTrack(page, 'Client After Login')).toBe(1);
      expect(await post(page, '/api/action')).toEqual({ deviceId, userId: USER });
      await middleware.tracker.flush();
      const cluster = await api<Identity>(`/api/identity/${USER}`);
      expect(cluster.device_ids).toEqual([deviceId]);
      const userEvents = await feed(USER);
      for (const name of ['Client Clicked', 'Server Action', 'User Identified', 'Client After Login']) {
        expect(
          userEvents.some((e) => e.event === name),
          name,
        ).toBe(true);
      }
      expect(userEvents.every((e) => e.distinct_id === USER)).toBe(true);
      // The anonymous ones moved to the user retroactively; the later ones carry both ids.
      expect(userEvents.find((e) => e.event === 'Client Clicked')).toMatchObject({
        original_distinct_id: `$device:${deviceId}`,
        device_id: deviceId,
      });
      expect(userEvents.filter((e) => e.event === 'Server Action').map((e) => e.user_id)).toEqual(expect.arrayContaining([null, USER]));
      expect(userEvents.find((e) => e.event === 'Client After Login')).toMatchObject({ user_id: USER, device_id: deviceId });

      // Logout: the server's reset cannot rotate the SDK's id; the page's mixpanel.reset() does, after the response.
      const loggedOut = await post(page, '/api/logout');
      expect(loggedOut.userId).toBeUndefined();
      expect(loggedOut.deviceId).not.toBe(deviceId);
      await page.evaluate(() => (globalThis as unknown as { mixpanel: { reset(): void } }).mixpanel.reset());
      const nextDevice = (await sdkProperty(page, '$device_id')) as string;
      expect(nextDevice).not.toBe(deviceId);
      expect(await clientTrack(page, 'Client After Logout')).toBe(1);
      expect(await post(page, '/api/action')).toEqual({ deviceId: nextDevice });
      await middleware.tracker.flush();
      const next = await feed(`$device:${nextDevice}`);
      expect(next.map((e) => e.event).sort()).toEqual(['Client After Logout', 'Server Action']);
      expect((await api<Identity>(`/api/identity/${USER}`)).device_ids).toEqual([deviceId]);
      expect((await feed(USER)).find((e) => e.event === 'Logged Out')).toMatchObject({ user_id: USER, device_id: deviceId });

      const identity = middleware.tracker.stats().identity;
      expect(identity).toMatchObject({ issued: 1, fromBrowserSdk: 5, browserSdkResets: 1, invalidBrowserSdkCookies: 0, switched: 0 });
      expect(errors).toEqual([]);
      expect(collectorErrors).toEqual([]);
      await context.close();
    });
  },
);

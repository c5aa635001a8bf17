// End to end: builds examples/next once (`next build`, the production build a user deploys), serves
// it with `next start`, points it at a local collector, and drives it over HTTP the way a browser
// without JavaScript does — and, when Chromium is installed, in a real browser with JavaScript (the
// client-side Server Action path). The tracker's flush interval is set to ten minutes, so every
// event that arrives was sent by the flush idstitch schedules with after() once a response is done.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { startCollector, type Collector } from '../../src/collector/index.js';
import type { TrackerStats } from '../../src/index.js';
import { CHROMIUM, CHROMIUM_ARGS, INSTALL_CHROMIUM, chromiumAvailable, requireChromium } from '../support/chromium.js';
import { buildExample, CookieJar, startExample, submitActionForm, visit, type RunningExample } from '../support/next-example.js';

const PASSWORD = 'correct horse battery staple';
const DEVICE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
requireChromium('the Next.js example in Chromium');

type Identity = { distinct_id: string; user_id: string | null; device_ids: string[] };
type FeedEvent = { event: string; device_id: string | null; user_id: string | null; original_distinct_id: string; distinct_id: string };

// Generous per-test time: on CI this file shares two cores with the rest of the suite.
describe('the Next.js example (next build, next start, local collector)', { timeout: 60_000 }, () => {
  let collector: Collector;
  let app: RunningExample;
  let base: string;

  beforeAll(async () => {
    collector = await startCollector({ port: 0 });
    const built = await buildExample();
    console.info(`  next build of examples/next: ${(built.ms / 1000).toFixed(1)} s`);
    app = await startExample({ IDSTITCH_API_HOST: collector.url, IDSTITCH_FLUSH_INTERVAL_MS: '600000' });
    base = app.url;
  }, 300_000);

  afterAll(async () => {
    await app?.stop();
    await collector?.close();
  });

  const api = async <T>(path: string): Promise<T> => (await (await fetch(collector.url + path)).json()) as T;

  /** Polls the collector until `check` passes: events arrive after their response, not with it. */
  async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, what: string): Promise<T> {
    const deadline = Date.now() + 20_000;
    let value = await read();
    while (!check(value)) {
      if (Date.now() > deadline)
        throw new Error(`${what} never happened; last saw ${JSON.stringify(value).slice(0, 2000)}\nserver output:\n${app.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      value = await read();
    }
    return value;
  }

  const feed = (distinctId: string) =>
    api<{ events?: FeedEvent[] }>(`/api/events?distinct_id=${encodeURIComponent(distinctId)}`).then((r) => r.events ?? []);

  /** The ids the example's "Who am I" page shows; '—' means none. */
  async function whoami(jar: CookieJar): Promise<{ deviceId: string | undefined; userId: string | undefined }> {
    const html = await (await visit(jar, `${base}/whoami`)).text();
    const deviceId = /id="device-id">([^<]*)</.exec(html)?.[1];
    const userId = /id="user-id">([^<]*)</.exec(html)?.[1];
    return { deviceId, userId: userId === '—' ? undefined : userId };
  }

  it('renders the first page with the device id the browser gets in that same response, and tracks with it', async () => {
    const jar = new CookieJar();
    const response = await visit(jar, `${base}/`);
    expect(response.status).toBe(200);
    const issued = jar.get('idstitch_device');
    expect(issued).toMatch(DEVICE_ID);
    expect(response.headers.get('set-cookie')).toBe(`idstitch_device=${issued}; Max-Age=34560000; Path=/; HttpOnly; SameSite=Lax`);
    expect(await response.text()).toContain(`id="device-id">${issued}<`);

    const events = await eventually(
      () => feed(`$device:${issued}`),
      (list) => list.length === 1,
      'the first page view reaching the collector',
    );
    expect(events[0]).toMatchObject({ event: 'Viewed Home', device_id: issued, user_id: null });
  });

  it('gives a Route Handler and a Pages API route the new id on the first request, in request.cookies too', async () => {
    const first = new CookieJar();
    const route = await visit(first, `${base}/api/identity`);
    const routeIds = (await route.json()) as { deviceId: string; cookie: string };
    expect(routeIds.deviceId).toBe(first.get('idstitch_device'));
    expect(routeIds.cookie).toBe(routeIds.deviceId);

    const other = new CookieJar();
    const pages = await visit(other, `${base}/api/hello`);
    expect(((await pages.json()) as { deviceId: string }).deviceId).toBe(other.get('idstitch_device'));
    expect(other.get('idstitch_device')).not.toBe(first.get('idstitch_device'));
  });

  it('links sign-up (Server Action) and log-in (Route Handler), rotates on log-out, keeps two users on one browser apart', async () => {
    const browser = new CookieJar();
    await visit(browser, `${base}/`);
    await visit(browser, `${base}/pricing`);
    const anonymous = await whoami(browser);
    expect(anonymous.deviceId).toBe(browser.get('idstitch_device'));
    expect(anonymous.userId).toBeUndefined();

    const signedUp = await submitActionForm(browser, `${base}/signup`, {
      name: 'Ada Lovelace',
      email: 'ada@example.com',
      password: PASSWORD,
    });
    expect([signedUp.status, signedUp.headers.get('location')]).toEqual([303, '/whoami']);
    const ada = await whoami(browser);
    expect(ada.deviceId).toBe(anonymous.deviceId); // sign-up never rotates: the link needs the same device
    expect(ada.userId).toMatch(/^user-/);

    const loggedOut = await submitActionForm(browser, `${base}/whoami`, {}); // the header's log-out form
    expect([loggedOut.status, loggedOut.headers.get('location')]).toEqual([303, '/']);
    const afterLogout = await whoami(browser);
    expect(afterLogout.deviceId).toMatch(DEVICE_ID);
    expect(afterLogout.deviceId).not.toBe(ada.deviceId); // log-out rotates, like the SDK's reset()
    expect(afterLogout.userId).toBeUndefined();

    await submitActionForm(browser, `${base}/signup`, { name: 'Grace Hopper', email: 'grace@example.com', password: PASSWORD });
    const grace = await whoami(browser);
    expect(grace.deviceId).toBe(afterLogout.deviceId);
    expect(grace.userId).not.toBe(ada.userId);

    const laptop = new CookieJar(); // the same person on a new device
    await visit(laptop, `${base}/pricing`);
    const newDevice = laptop.get('idstitch_device');
    const login = await visit(laptop, `${base}/api/login`, {
      method: 'POST',
      body: new URLSearchParams({ email: 'ada@example.com', password: PASSWORD }),
    });
    expect([login.status, login.headers.get('location')]).toEqual([303, '/whoami']);
    expect(await whoami(laptop)).toEqual({ deviceId: newDevice, userId: ada.userId });

    const adaCluster = await eventually(
      () => api<Identity>(`/api/identity/${encodeURIComponent(ada.userId!)}`),
      (identity) => identity.device_ids?.length === 2,
      'both of Ada’s devices linked to her',
    );
    expect(adaCluster.device_ids).toEqual([ada.deviceId, newDevice].sort());
    expect((await api<Identity>(`/api/identity/${encodeURIComponent(grace.userId!)}`)).device_ids).toEqual([grace.deviceId]);

    const adaFeed = await feed(ada.userId!);
    // Anonymous browsing before sign-up now belongs to Ada (retroactively).
    expect(adaFeed.find((e) => e.event === 'Viewed Pricing' && e.device_id === ada.deviceId)).toMatchObject({
      original_distinct_id: `$device:${ada.deviceId}`,
      distinct_id: ada.userId,
    });
    expect(adaFeed.find((e) => e.event === 'Signed Up')).toMatchObject({ user_id: ada.userId, device_id: ada.deviceId });
    expect(adaFeed.find((e) => e.event === 'Logged Out')).toMatchObject({ user_id: ada.userId, device_id: ada.deviceId });
    expect(adaFeed.find((e) => e.event === 'Logged In')).toMatchObject({ user_id: ada.userId, device_id: newDevice });
    const graceFeed = await feed(grace.userId!);
    expect(graceFeed.some((e) => e.device_id === ada.deviceId)).toBe(false);
  });

  describe.skipIf(!chromiumAvailable)(`in Chromium (${chromiumAvailable ? CHROMIUM : `skipped: ${INSTALL_CHROMIUM}`})`, () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    });
    afterAll(async () => {
      await browser?.close();
    });

    it('first visit, sign-up and log-out with JavaScript on (client-side Server Actions)', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${base}/`);
      const rendered = (await page.locator('#device-id').textContent())?.trim();
      const stored = (await context.cookies()).find((c) => c.name === 'idstitch_device');
      expect(rendered).toMatch(DEVICE_ID);
      expect(stored).toMatchObject({ value: rendered, httpOnly: true, sameSite: 'Lax', path: '/' });

      await page.goto(`${base}/signup`);
      await page.fill('#name', 'Katherine Johnson');
      await page.fill('#email', 'katherine@example.com');
      await page.fill('#password', PASSWORD);
      await Promise.all([page.waitForURL(`${base}/whoami`), page.click('button[type=submit]')]);
      await expect(page.locator('#user-id').textContent()).resolves.toMatch(/^user-/);
      const userId = (await page.locator('#user-id').textContent())!.trim();
      expect((await page.locator('#device-id').textContent())?.trim()).toBe(rendered);

      await Promise.all([page.waitForURL(`${base}/`), page.click('#logout')]);
      const rotated = (await context.cookies()).find((c) => c.name === 'idstitch_device')?.value;
      expect(rotated).toMatch(DEVICE_ID);
      expect(rotated).not.toBe(rendered);
      await page.goto(`${base}/whoami`);
      expect((await page.locator('#device-id').textContent())?.trim()).toBe(rotated);
      expect((await page.locator('#user-id').textContent())?.trim()).toBe('—');

      const cluster = await eventually(
        () => api<Identity>(`/api/identity/${encodeURIComponent(userId)}`),
        (identity) => identity.device_ids?.length === 1,
        'the sign-up link',
      );
      expect(cluster.device_ids).toEqual([rendered]);
      await context.close();
    });
  });

  it('gives a browser that sends Sec-GPC: 1 no device id, in the proxy and in the page, and tracks nothing for it', async () => {
    const before = (await (await fetch(`${base}/api/stats`)).json()) as TrackerStats;
    const jar = new CookieJar();
    const response = await visit(jar, `${base}/`, { headers: { 'sec-gpc': '1' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('set-cookie')).toBeNull();
    expect(jar.get('idstitch_device')).toBeUndefined();
    const after = (await (await fetch(`${base}/api/stats`)).json()) as TrackerStats;
    expect(after.identity.optedOut).toBe(before.identity.optedOut + 1);
    expect(after.dropped.opted_out).toBe(before.dropped.opted_out + 1);
    expect(after.tracked).toBe(before.tracked);
  });

  it('marks a first visit to a prerendered page Cache-Control: private, so no shared cache hands its device id to others', async () => {
    const jar = new CookieJar();
    const response = await visit(jar, `${base}/about`);
    expect(response.status).toBe(200);
    expect(jar.get('idstitch_device')).toMatch(DEVICE_ID);
    const cacheControl = response.headers.get('cache-control') ?? '';
    expect(cacheControl).toMatch(/^private\b/);
    expect(cacheControl).not.toMatch(/s-maxage|public/);
  });

  it("overrides a route's own public, s-maxage caching on a first visit only", async () => {
    const jar = new CookieJar();
    const first = await visit(jar, `${base}/api/catalog`);
    expect(jar.get('idstitch_device')).toMatch(DEVICE_ID);
    expect(first.headers.get('cache-control')).toBe('private');
    const again = await visit(jar, `${base}/api/catalog`);
    expect(again.headers.get('set-cookie')).toBeNull();
    expect(again.headers.get('cache-control')).toBe('public, s-maxage=600');
  });

  it('delivers what is still queued when the server gets SIGTERM (instrumentation.ts, NEXT_MANUAL_SIG_HANDLE)', async () => {
    // A second server, with a collector of its own, that keeps events queued: no flush after
    // responses, a ten-minute interval.
    const own = await startCollector({ port: 0 });
    const queued = await startExample({
      IDSTITCH_API_HOST: own.url,
      IDSTITCH_FLUSH_INTERVAL_MS: '600000',
      IDSTITCH_FLUSH_AFTER_RESPONSE: '0',
      NEXT_MANUAL_SIG_HANDLE: 'true',
    });
    const jar = new CookieJar();
    try {
      expect((await visit(jar, `${queued.url}/`)).status).toBe(200);
      const stats = (await (await fetch(`${queued.url}/api/stats`)).json()) as TrackerStats;
      expect(stats.queued, 'the page view waits in the queue').toBeGreaterThanOrEqual(1);
      await queued.stop();
      const { events } = (await (
        await fetch(`${own.url}/api/events?distinct_id=${encodeURIComponent(`$device:${jar.get('idstitch_device')}`)}`)
      ).json()) as { events: FeedEvent[] };
      expect(events.map((event) => event.event)).toEqual(['Viewed Home']);
    } finally {
      await queued.stop();
      await own.close();
    }
  });

  it('delivered every event once the requests had returned: nothing queued, dropped or unwritable', async () => {
    const stats = await eventually(
      async () => (await (await fetch(`${base}/api/stats`)).json()) as TrackerStats,
      (s) => s.queued === 0 && s.tracked > 0 && s.delivered === s.tracked,
      'delivery of everything tracked',
    );
    // The one opted-out page view (Sec-GPC above) is the only event not sent, and it was never queued.
    expect(Object.entries(stats.dropped).filter(([reason, count]) => count !== 0 && reason !== 'opted_out')).toEqual([]);
    expect(stats.identity).toMatchObject({ unwritable: 0, userIdResolverErrors: 0, invalidUserIds: 0, cookieAfterHeadersSent: 0 });
    const { users } = await api<{ users: Array<{ event_count: number }> }>('/api/users');
    expect(users.reduce((sum, user) => sum + user.event_count, 0)).toBe(stats.delivered);
  });
});

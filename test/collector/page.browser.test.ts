// The collector's page in real headless Chromium (Debian's package, driven by playwright-core; never a
// downloaded browser). Without /usr/bin/chromium the suite is skipped with a notice, unless
// IDSTITCH_REQUIRE_BROWSER=1 (CI), which turns the missing browser into a failure.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, CHROMIUM_ARGS, INSTALL_CHROMIUM, chromiumAvailable, requireChromium } from '../support/chromium.js';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { basic, collector, event, importEvents, send } from './helpers.js';

const SCREENSHOT = '/tmp/idstitch-collector-page.png';
/** Screenshots kept for a person to look at (not compared: the assertions are on layout). */
const ARTEFACTS = mkdtempSync(join(tmpdir(), 'idstitch-page-'));
requireChromium('the page in Chromium');

const TOKEN = 'page-token';
/** Sets `window.__pwned` if any of it ever runs as markup or script. */
const XSS = {
  event: '<img src=x onerror="window.__pwned=1">',
  textarea: '</textarea><script>window.__pwned=1</script>',
  quotes: `'"><img src=x onerror=window.__pwned=1>`,
  table: '</pre></details></td></tr></table><script>window.__pwned=1</script>',
  user: '"><svg onload=window.__pwned=1>',
  device: '</title></text></svg><img src=x onerror=window.__pwned=1>',
};

describe.skipIf(!chromiumAvailable)(`the page in Chromium (${chromiumAvailable ? CHROMIUM : `skipped: ${INSTALL_CHROMIUM}`})`, () => {
  let browser: Browser;
  let context: BrowserContext;
  let base: string;

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
  });

  /** A collector holding the guide's three flows (contract §5.9's corrected end state) and a hostile user. */
  async function seeded(): Promise<void> {
    const started = await collector({ token: TOKEN });
    base = started.url;
    const auth = { authorization: basic(TOKEN) };
    const flows = [
      // New user signup, then the returning user on a new device.
      event('Viewed Home', { device: 'd1-laptop' }),
      event('Viewed Pricing', { device: 'd1-laptop' }),
      event('User Identified', { device: 'd1-laptop', user: 'alice' }),
      event('Viewed Home', { device: 'd2-phone' }),
      event('Viewed Pricing', { device: 'd2-phone' }),
      event('User Identified', { device: 'd2-phone', user: 'alice' }),
      // Multiple users, one device: bob logs in, logs out (reset: a new device id), carol logs in.
      event('Viewed Home', { device: 'd3-shared' }),
      event('User Identified', { device: 'd3-shared', user: 'bob' }),
      event('Viewed Home', { device: 'd4-shared-after-reset' }),
      event('Viewed Pricing', { device: 'd4-shared-after-reset' }),
      event('User Identified', { device: 'd4-shared-after-reset', user: 'carol' }),
      event('Viewed Home', { device: 'd5-never-logged-in' }),
    ];
    const hostile = [
      event(XSS.event, { device: XSS.device }, { note: XSS.textarea, [XSS.quotes]: XSS.table }),
      event('Signed Up', { device: XSS.device, user: XSS.user }, { plan: XSS.quotes }),
    ];
    const imported = await importEvents(base, [...flows, ...hostile], auth);
    expect(imported.json).toMatchObject({ num_records_imported: 14 });
    const profile = { $token: TOKEN, $distinct_id: 'alice', $set: { $name: 'Alice', bio: XSS.textarea } };
    expect(
      (await send(base, '/engage?verbose=1', { body: JSON.stringify([profile]), headers: { 'content-type': 'application/json' } })).json,
    ).toEqual({ status: 1, error: null });
  }

  /** A page that fails the test on any script error or console error (a CSP block of our own style or script shows as one). */
  async function open(path: string): Promise<Page> {
    context = await browser.newContext({ httpCredentials: { username: TOKEN, password: '' }, viewport: { width: 1360, height: 900 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    (page as Page & { problems: string[] }).problems = problems;
    const response = await page.goto(base + path);
    expect(response?.status()).toBe(200);
    return page;
  }

  const problems = (page: Page) => (page as Page & { problems: string[] }).problems;
  const feedRows = (page: Page) => page.locator('table.feed tbody tr');

  it('shows the users, each cluster drawn, and the feed with pre-login events marked retroactively attributed', async () => {
    await seeded();
    const page = await open('/?distinct_id=alice');
    const nav = page.getByRole('navigation', { name: 'Users' });
    for (const user of ['alice', 'bob', 'carol', XSS.user]) expect(await nav.getByRole('link', { name: user }).isVisible()).toBe(true);
    expect(await nav.locator('ul[aria-labelledby=users] li').allInnerTexts()).toHaveLength(4);
    expect(await nav.locator('ul[aria-labelledby=anonymous-devices] li').innerText()).toContain('$device:d5-never-logged-in');
    expect(await page.locator('header .stats').innerText()).toMatch(/4 users · 1 anonymous device · 14 events/);

    // Alice's cluster: both devices → alice, as the guide's "D1, D2, and U1 are inside one ID cluster".
    const cluster = page.getByRole('img', { name: /Identity cluster/ });
    expect(await cluster.getAttribute('aria-label')).toBe('Identity cluster: devices d1-laptop, d2-phone linked to user alice');
    expect(await cluster.locator('text.id').allTextContents()).toEqual(['$device:d1-laptop', '$device:d2-phone', 'alice']);
    expect(await cluster.isVisible()).toBe(true);

    // The guide's table: events 1, 2, 4, 5 were sent as the device and now resolve to alice.
    const rows = feedRows(page);
    expect(await rows.count()).toBe(6);
    // Typed by hand: the root tsconfig has no DOM lib, and React's types (brought in by the Next adapter) declare empty element interfaces.
    type Cell = {
      querySelector(selector: string): Cell | null;
      querySelectorAll(selector: string): Iterable<Cell>;
      textContent: string | null;
    };
    const table = await rows.evaluateAll((trs) =>
      trs.map((tr) =>
        [...(tr as unknown as Cell).querySelectorAll('td')].map((td) =>
          (td.querySelector('summary') ?? td).textContent!.replace(/\s+/g, ' ').trim(),
        ),
      ),
    );
    expect(table.map((cells) => [cells[2], cells[5], cells[6]])).toEqual([
      ['Viewed Home', '$device:d1-laptop⇒alice', 'retroactively attributed'],
      ['Viewed Pricing', '$device:d1-laptop⇒alice', 'retroactively attributed'],
      ['User Identified', 'alice', 'links d1-laptop ⇒ alice'],
      ['Viewed Home', '$device:d2-phone⇒alice', 'retroactively attributed'],
      ['Viewed Pricing', '$device:d2-phone⇒alice', 'retroactively attributed'],
      ['User Identified', 'alice', 'links d2-phone ⇒ alice'],
    ]);
    const retroactive = page.locator('tr.retro .badge.retro');
    expect(await retroactive.count()).toBe(4);
    for (const badge of await retroactive.all()) expect(await badge.isVisible()).toBe(true);
    expect(await page.locator('#profile-title ~ dl').innerText()).toContain('Alice');

    // Multiple users, one device: two clusters, not the guide's one (contract §5.9).
    await page.getByRole('navigation', { name: 'Users' }).getByRole('link', { name: /^bob/ }).click();
    await page.waitForURL(/distinct_id=bob/);
    expect(await page.getByRole('img', { name: /Identity cluster/ }).getAttribute('aria-label')).toBe(
      'Identity cluster: device d3-shared linked to user bob',
    );
    await page
      .getByRole('navigation', { name: 'Users' })
      .getByRole('link', { name: /^carol/ })
      .click();
    await page.waitForURL(/distinct_id=carol/);
    expect(await page.getByRole('img', { name: /Identity cluster/ }).getAttribute('aria-label')).toBe(
      'Identity cluster: device d4-shared-after-reset linked to user carol',
    );
    expect(await page.locator('tr.retro .badge.retro').count()).toBe(2);

    // The style and the script ran under the CSP nonce: styles apply, times were localised.
    expect(
      await page
        .locator('header')
        .evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { position: string } }).getComputedStyle(el).position),
    ).toBe('sticky');
    expect(await page.locator('table.feed time').first().getAttribute('title')).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
    expect(problems(page)).toEqual([]);

    await page.goto(base + '/?distinct_id=alice');
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    await context.close();
  });

  it('renders hostile event names, ids and property values as text, and runs none of them', async () => {
    await seeded();
    const page = await open(`/?distinct_id=${encodeURIComponent(XSS.user)}`);
    expect(await page.locator('main > h2').innerText()).toBe(XSS.user);
    const summaries = page.locator('table.feed summary');
    expect(await summaries.allTextContents()).toEqual([XSS.event, 'Signed Up']);
    await summaries.first().click();
    const properties = JSON.parse(await page.locator('table.feed pre').first().innerText());
    expect(properties).toMatchObject({ note: XSS.textarea, [XSS.quotes]: XSS.table, $device_id: XSS.device });
    // Long labels are cut in the drawing; the tooltip has them whole.
    expect(
      await page
        .getByRole('img', { name: /Identity cluster/ })
        .locator('g > title')
        .allTextContents(),
    ).toEqual([`$device:${XSS.device}`, XSS.user]);
    expect(await page.locator('table.feed tbody tr').count()).toBe(2);
    expect(await page.locator('img, script:not([nonce]), svg:not(.cluster)').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { __pwned?: unknown }).__pwned)).toBeUndefined();

    // A hostile id in the address: echoed in the search box and the notice, as text.
    await page.goto(`${base}/?distinct_id=${encodeURIComponent(XSS.textarea)}`);
    expect(await page.locator('main .notice code').innerText()).toBe(XSS.textarea);
    expect(await page.locator('nav input[type=search]').inputValue()).toBe(XSS.textarea);
    expect(await page.evaluate(() => (globalThis as { __pwned?: unknown }).__pwned)).toBeUndefined();
    expect(problems(page)).toEqual([]);
    await context.close();
  });

  describe("layout and search, at a phone's width and a desktop's", () => {
    const DANA_DEVICE = 'f3c1a9d2-7b4e-4c1a-9e2f-5d6b7c8a9e01';
    const DAN_DEVICE = 'f3c1a9d3-0000-4c1a-9e2f-5d6b7c8a9e02';

    /** Dana, with a $name and a feed long enough to scroll; Dan, whose device id shares Dana's first 7 characters. */
    async function longFeed(): Promise<void> {
      const started = await collector({ token: TOKEN });
      base = started.url;
      const auth = { authorization: basic(TOKEN) };
      const start = Date.now() - 3_600_000;
      const feed = Array.from({ length: 60 }, (_, i) =>
        event(
          i === 59 ? 'User Identified' : 'Viewed Page',
          { device: DANA_DEVICE, ...(i === 59 ? { user: 'dana' } : {}), time: start + i * 1000 },
          { path: `/docs/${i}`, long_text: 'x'.repeat(400) },
        ),
      );
      feed.push(event('User Identified', { device: DAN_DEVICE, user: 'dan', time: start + 70_000 }));
      expect((await importEvents(base, feed, auth)).json).toMatchObject({ num_records_imported: 61 });
      const profile = { $token: TOKEN, $distinct_id: 'dana', $set: { $name: 'Dana Scully' } };
      expect(
        (await send(base, '/engage?verbose=1', { body: JSON.stringify([profile]), headers: { 'content-type': 'application/json' } })).json,
      ).toEqual({ status: 1, error: null });
    }

    /** Opens `path` at `width`, failing on console errors and on any response of 400 or more (a favicon's 404 included). */
    async function openAt(path: string, width: number): Promise<Page> {
      context = await browser.newContext({ httpCredentials: { username: TOKEN, password: '' }, viewport: { width, height: 844 } });
      const page = await context.newPage();
      const seen: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') seen.push(message.text());
      });
      page.on('response', (response) => {
        if (response.status() >= 400) seen.push(`${response.status()} ${response.url()}`);
      });
      (page as Page & { problems: string[] }).problems = seen;
      expect((await page.goto(base + path))?.status()).toBe(200);
      await page.waitForLoadState('networkidle');
      return page;
    }

    type Box = { x: number; y: number; width: number; height: number };
    const box = async (page: Page, selector: string): Promise<Box> => (await page.locator(selector).first().boundingBox())!;

    it('finds a user or device by the first characters the page shows, and lists the candidates when several match', async () => {
      await longFeed();
      const page = await openAt(`/?distinct_id=${encodeURIComponent('$device:f3c1a9d2…')}`, 1400);
      expect(await page.locator('main > h2').innerText()).toBe('dana');
      await page.goto(`${base}/?distinct_id=f3c1a9d`);
      const notice = page.locator('main .notice');
      expect(await notice.innerText()).toMatch(/^2 users and devices have ids starting with f3c1a9d/);
      expect(await notice.getByRole('link').allInnerTexts()).toEqual(expect.arrayContaining(['dana', 'dan']));
      await page.goto(`${base}/?distinct_id=zzz`);
      expect(await notice.innerText()).toContain('No user or device has the id zzz');
      expect(problems(page)).toEqual([]);
      await context.close();
    });

    it("shows users by their profile's $name beside their id, and zero counts of the doctor's totals in grey", async () => {
      await longFeed();
      const page = await openAt('/?distinct_id=dana', 1400);
      const dana = page.getByRole('navigation', { name: 'Users' }).getByRole('link', { name: /dana/ }).first();
      expect(await dana.locator('.name').innerText()).toBe('Dana Scully');
      expect(await dana.locator('.mono').innerText()).toBe('dana');
      await page.goto(`${base}/?view=doctor`);
      const pills = page.locator('.doctor-totals .badge');
      type Styled = { getComputedStyle(element: unknown): { color: string } };
      for (const pill of await pills.all()) {
        const text = await pill.innerText();
        const color = await pill.evaluate((element) => (globalThis as unknown as Styled).getComputedStyle(element).color);
        if (text.startsWith('0 '))
          expect(color, text).toBe('rgb(102, 112, 133)'); // --muted
        else expect(color, text).not.toBe('rgb(102, 112, 133)');
      }
      expect(await pills.count()).toBe(3);
      expect(problems(page)).toEqual([]);
      await context.close();
    });

    it('at 1400 px: the sidebar reaches the bottom of a long page, and an opened event stays inside its card', async () => {
      await longFeed();
      const page = await openAt('/?distinct_id=dana', 1400);
      const [nav, main] = [await box(page, 'nav'), await box(page, 'main')];
      expect(main.height, 'the feed makes the page longer than the window').toBeGreaterThan(844 * 2);
      expect(nav.y + nav.height, "the sidebar's background runs to the page's end").toBeGreaterThanOrEqual(main.y + main.height - 1);
      await page.locator('table.feed summary').first().click();
      const [section, table] = [await box(page, 'section[aria-labelledby=feed-title]'), await box(page, 'table.feed')];
      expect(table.x + table.width, 'the table ends inside the card').toBeLessThanOrEqual(section.x + section.width);
      await page.screenshot({ path: join(ARTEFACTS, 'collector-page-1400.png'), fullPage: false });
      expect(problems(page)).toEqual([]);
      await context.close();
    });

    it('at 390 px: every column of the feed is on screen, nothing scrolls sideways', async () => {
      await longFeed();
      const page = await openAt('/?distinct_id=dana', 390);
      const widest = await page.evaluate(
        () => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth,
      );
      expect(widest).toBeLessThanOrEqual(390);
      const first = page.locator('table.feed tbody tr').first();
      for (const label of ['$device_id', '$user_id', 'distinct_id']) {
        const cell = await first.locator(`td[data-label="${label}"]`).boundingBox();
        expect(cell, label).not.toBeNull();
        expect(cell!.x + cell!.width, label).toBeLessThanOrEqual(390);
      }
      await page.locator('table.feed summary').first().click();
      expect(
        await page.evaluate(
          () => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth,
        ),
      ).toBeLessThanOrEqual(390);
      await page.screenshot({ path: join(ARTEFACTS, 'collector-page-390.png'), fullPage: false });
      expect(problems(page)).toEqual([]);
      await context.close();
    });
  });
});

// The collector's page in real headless Chromium (Debian's package, driven by playwright-core; never a
// downloaded browser). Without /usr/bin/chromium the suite is skipped with a notice, unless
// IDSTITCH_REQUIRE_BROWSER=1 (CI), which turns the missing browser into a failure.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, CHROMIUM_ARGS, INSTALL_CHROMIUM, chromiumAvailable, requireChromium } from '../support/chromium.js';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { basic, collector, event, importEvents, send } from './helpers.js';

const SCREENSHOT = '/tmp/idstitch-collector-page.png';
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
    expect((await send(base, '/engage?verbose=1', { body: JSON.stringify([profile]), headers: { 'content-type': 'application/json' } })).json).toEqual({ status: 1, error: null });
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
    type Cell = { querySelector(selector: string): Cell | null; querySelectorAll(selector: string): Iterable<Cell>; textContent: string | null };
    const table = await rows.evaluateAll((trs) => trs.map((tr) => [...(tr as unknown as Cell).querySelectorAll('td')].map((td) => (td.querySelector('summary') ?? td).textContent!.replace(/\s+/g, ' ').trim())));
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
    expect(await page.getByRole('img', { name: /Identity cluster/ }).getAttribute('aria-label')).toBe('Identity cluster: device d3-shared linked to user bob');
    await page.getByRole('navigation', { name: 'Users' }).getByRole('link', { name: /^carol/ }).click();
    await page.waitForURL(/distinct_id=carol/);
    expect(await page.getByRole('img', { name: /Identity cluster/ }).getAttribute('aria-label')).toBe('Identity cluster: device d4-shared-after-reset linked to user carol');
    expect(await page.locator('tr.retro .badge.retro').count()).toBe(2);

    // The style and the script ran under the CSP nonce: styles apply, times were localised.
    expect(await page.locator('header').evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { position: string } }).getComputedStyle(el).position)).toBe('sticky');
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
    expect(await page.getByRole('img', { name: /Identity cluster/ }).locator('g > title').allTextContents()).toEqual([`$device:${XSS.device}`, XSS.user]);
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
});

// Clicks through the Express example in real headless Chromium (playwright-core) and checks what the
// recording server derived. Not a test suite entry; run it by hand or from CI that has Chromium:
//
//   npx tsx examples/express/smoke-browser.ts
//
// CHROMIUM_PATH overrides /usr/bin/chromium; SCREENSHOT_DIR (default /tmp) receives one screenshot
// per page. Flows: browse anonymously, sign up (Ada), log out, sign up a second user (Grace) in the
// same browser; then, in a second browser profile, log in as Ada (returning user, new device).
// Exit code 0 when every check passed.
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startRecordingServer } from '../recording-server.js';
import { createApp } from './app.js';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SCREENSHOTS = process.env.SCREENSHOT_DIR || '/tmp';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
/** The whole run, browser start included (ms). */
const DEADLINE_MS = 90_000;

const failures: string[] = [];
function check(ok: boolean, what: string): void {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
}

async function shot(page: Page, name: string): Promise<void> {
  const path = join(SCREENSHOTS, `idstitch-example-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`     screenshot ${path}`);
}

/** The ids the "who am I" page shows; '—' means none. */
async function whoami(page: Page, base: string): Promise<{ deviceId: string; userId: string | undefined }> {
  await page.goto(`${base}/whoami`);
  const deviceId = (await page.locator('#device-id').textContent())?.trim() ?? '';
  const userId = (await page.locator('#user-id').textContent())?.trim();
  return { deviceId, userId: userId === '—' ? undefined : userId };
}

async function signUp(page: Page, base: string, name: string, email: string, screenshot?: string): Promise<void> {
  await page.goto(`${base}/signup`);
  await page.fill('#name', name);
  await page.fill('#email', email);
  await page.fill('#password', 'correct horse battery staple');
  if (screenshot) await shot(page, screenshot);
  await Promise.all([page.waitForURL(`${base}/whoami`), page.click('button[type=submit]')]);
}

async function main(): Promise<void> {
  const recorder = await startRecordingServer({ port: 0 });
  const errors: string[] = [];
  const { app, tracker } = createApp({
    apiHost: recorder.url,
    token: 'smoke',
    recorderUrl: recorder.url,
    trackerOptions: { flushIntervalMs: 200, onError: (error) => errors.push(`${error.code}: ${error.message}`) },
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  const contexts: BrowserContext[] = [];
  try {
    // Profile 1: Ada signs up after browsing; logs out; Grace signs up on the same browser.
    const first = await browser.newContext();
    contexts.push(first);
    const page = await first.newPage();
    await page.goto(`${base}/`);
    await shot(page, 'home');
    await page.goto(`${base}/pricing`);
    await shot(page, 'pricing');
    const anonymous = await whoami(page, base);
    check(/^[0-9a-f-]{36}$/.test(anonymous.deviceId) && anonymous.userId === undefined, `anonymous visitor has a device id (${anonymous.deviceId}) and no user id`);

    await signUp(page, base, 'Ada Lovelace', 'ada@example.com', 'signup');
    const ada = await whoami(page, base);
    await shot(page, 'whoami');
    check(ada.deviceId === anonymous.deviceId && ada.userId !== undefined, `after sign-up: same device, user id ${ada.userId}`);

    await Promise.all([page.waitForURL(`${base}/`), page.click('#logout')]);
    const afterLogout = await whoami(page, base);
    check(afterLogout.deviceId !== ada.deviceId && afterLogout.userId === undefined, `log-out rotates the device id (${afterLogout.deviceId}) and signs out`);
    await page.goto(`${base}/`);

    await signUp(page, base, 'Grace Hopper', 'grace@example.com');
    const grace = await whoami(page, base);
    check(grace.deviceId === afterLogout.deviceId && grace.userId !== undefined && grace.userId !== ada.userId, `second user ${grace.userId} on the new device`);

    // Profile 2: a new device; Ada logs in there (returning user).
    const second = await browser.newContext();
    contexts.push(second);
    const other = await second.newPage();
    await other.goto(`${base}/pricing`);
    const newDevice = await whoami(other, base);
    await other.goto(`${base}/login`);
    await other.fill('#email', 'ada@example.com');
    await other.fill('#password', 'correct horse battery staple');
    await shot(other, 'login');
    await Promise.all([other.waitForURL(`${base}/whoami`), other.click('button[type=submit]')]);
    const adaAgain = await whoami(other, base);
    check(adaAgain.deviceId === newDevice.deviceId && adaAgain.userId === ada.userId, `returning user on a new device: ${adaAgain.deviceId} → ${adaAgain.userId}`);

    // Everything tracked so far reaches the recording server before we look.
    await tracker.flush();
    await page.goto(`${recorder.url}/?live=0`);
    await shot(page, 'recorder');
    const rows = await page.locator('#clusters tr[data-user-id]').evaluateAll((trs) =>
      trs.map((tr) => ({ userId: tr.getAttribute('data-user-id') ?? '', devices: (tr.getAttribute('data-devices') ?? '').split(' ').filter(Boolean) })),
    );
    const adaRow = rows.find((row) => row.userId === ada.userId);
    const graceRow = rows.find((row) => row.userId === grace.userId);
    check(rows.length === 2, `the recording page shows two users (${rows.map((row) => row.userId).join(', ')})`);
    check(
      JSON.stringify(adaRow?.devices) === JSON.stringify([ada.deviceId, adaAgain.deviceId]),
      `Ada's devices: the first browser's original device, then the second profile's (${adaRow?.devices.join(', ')})`,
    );
    check(JSON.stringify(graceRow?.devices) === JSON.stringify([grace.deviceId]), `Grace's devices: only the rotated device (${graceRow?.devices.join(', ')})`);
    check(!adaRow?.devices.includes(grace.deviceId) && !graceRow?.devices.includes(ada.deviceId), 'the two users share no device');

    const events = recorder.events();
    const firstView = events.find((e) => e.deviceId === ada.deviceId && e.event === 'Viewed Home');
    check(firstView?.derivedDistinctId === `$device:${ada.deviceId}` && recorder.resolve(firstView.derivedDistinctId) === ada.userId, 'the anonymous first page view resolves to Ada retroactively');
    const loggedOut = events.find((e) => e.event === 'Logged Out');
    check(loggedOut?.userId === ada.userId && loggedOut?.deviceId === ada.deviceId, '"Logged Out" carries Ada and her device, before the reset');
    const viewAfterLogout = events.find((e) => e.deviceId === grace.deviceId && e.event === 'Viewed Home');
    check(viewAfterLogout !== undefined && recorder.resolve(viewAfterLogout.derivedDistinctId) === grace.userId, 'the page view after log-out resolves to Grace, not Ada');
    check(events.filter((e) => e.event === 'User Identified').length === 3, 'three "User Identified" events (two sign-ups, one log-in)');
    check(!events.some((e) => e.linkConflict), 'no device was linked to two users');
    check(errors.length === 0, `no idstitch errors${errors.length ? `: ${errors.join('; ')}` : ''}`);
  } finally {
    for (const context of contexts) await context.close();
    await browser.close();
    server.close();
    await tracker.shutdown({ timeoutMs: 5000 });
    await recorder.close();
  }
}

const deadline = setTimeout(() => {
  console.error(`smoke-browser: not done after ${DEADLINE_MS / 1000} s`);
  process.exit(2);
}, DEADLINE_MS);
deadline.unref();

main().then(
  () => {
    console.log(failures.length ? `\n${failures.length} check(s) failed` : '\nall checks passed');
    process.exitCode = failures.length ? 1 : 0;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);

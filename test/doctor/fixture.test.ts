// The doctor against a collector filled by driving the Express example (examples/express) over real HTTP
// through wrong flows: two users on one browser without a logout, a session that ends without a reset,
// plus what a naive integration sends and idstitch never would (a profile set on an anonymous device, a
// placeholder user id, server events keyed by e-mail with a constant $insert_id). Every planted mistake
// must be found with its count, by the API, `idstitch doctor --url`, `--db` and `--ndjson`; a clean flow
// (proper logout) must pass.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request, { type Response } from 'supertest';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../examples/express/app.js';
import { runDoctor, type CheckId, type Collector, type DoctorReport } from '../../src/collector/index.js';
import type { IdstitchError } from '../../src/index.js';
import { collector, importEvents, send, trackEvents } from '../collector/helpers.js';
import { runCli } from './run-cli.js';

const TOKEN = 'doctor-fixture';
const PASSWORD = 'correct horse battery staple';
const dir = mkdtempSync(join(tmpdir(), 'idstitch-doctor-fixture-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const apps: Array<ReturnType<typeof createApp>> = [];
const errors: IdstitchError[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((example) => example.tracker.shutdown({ timeoutMs: 2000 })));
  expect(errors.splice(0)).toEqual([]);
});

/** The example app sending to `target`; its tracker sends only when flushed, so one batch keeps the order of the clicks. */
function exampleApp(target: Collector): ReturnType<typeof createApp> {
  // guardUserSwitch off: by default idstitch gives a browser a new device when another user signs in
  // without a logout, which would prevent the very mistake this fixture plants.
  const example = createApp({
    apiHost: target.url,
    token: TOKEN,
    collectorUrl: target.url,
    trackerOptions: { flushIntervalMs: 60_000, guardUserSwitch: false, onError: (error) => errors.push(error) },
  });
  apps.push(example);
  return example;
}

function deviceOf(response: Response): string {
  const cookies = ([] as string[]).concat(response.headers['set-cookie'] ?? []);
  const match = cookies.map((line) => /^idstitch_device=([0-9a-f-]{36})/.exec(line)).find(Boolean);
  if (!match) throw new Error(`no device cookie in ${JSON.stringify(cookies)}`);
  return match[1]!;
}

function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

async function signUp(agent: request.Agent, name: string): Promise<void> {
  const response = await agent
    .post('/signup')
    .type('form')
    .send(form({ name, email: `${name.toLowerCase()}@example.com`, password: PASSWORD }));
  expect(response.status).toBe(303);
}

async function logIn(agent: request.Agent, name: string): Promise<void> {
  const response = await agent
    .post('/login')
    .type('form')
    .send(form({ email: `${name.toLowerCase()}@example.com`, password: PASSWORD }));
  expect(response.status).toBe(303);
}

/** Posts like a naive integration would: straight to the collector, as mixpanel-node or a hand-written client does. */
async function engage(target: Collector, updates: unknown[]): Promise<void> {
  const response = await send(target.url, '/engage?verbose=1', {
    body: JSON.stringify(updates),
    headers: { 'content-type': 'application/json' },
  });
  expect(response.json).toEqual({ status: 1, error: null });
}

/**
 * The wrong flows. Returns the ids the assertions need. Counts planted, by check:
 * shared-devices 2 (the shared browser: 3 refused links; the kiosk: 2 misattributed, 2 refused),
 * pre-post-login 2 (Carol, Erin), anonymous-profiles 2 (1 duplicating Dave's), unidentified-users 1 and
 * suspicious-ids 1 (frank@example.com), denylisted-ids 1, insert-ids 2 events under one colliding $insert_id (and 1 copy).
 */
async function driveWrongFlows(target: Collector): Promise<{ shared: string; kiosk: string; visitor: string }> {
  const { app, tracker } = exampleApp(target);

  // Carol has an account and her own browser.
  const carols = request.agent(app);
  await carols.get('/');
  await signUp(carols, 'Carol');

  // No logout between users: Bob signs up, then Carol logs in on the same browser.
  const browser = request.agent(app);
  const shared = deviceOf(await browser.get('/'));
  await signUp(browser, 'Bob');
  await browser.get('/pricing');
  await logIn(browser, 'Carol'); // "User Identified" and "Logged In" carry Bob's device: refused
  await browser.get('/pricing'); // refused again

  // A kiosk whose session ends without a reset: Dave signs up; his session cookie expires, the device cookie stays.
  const kioskAgent = request.agent(app);
  const kioskFirst = await kioskAgent.get('/');
  const kiosk = deviceOf(kioskFirst);
  await signUp(kioskAgent, 'Dave');
  // The device cookie as the kiosk's browser first got it (signed: the example sets a cookie secret).
  const kioskCookie = ([] as string[])
    .concat(kioskFirst.headers['set-cookie'] ?? [])
    .find((line) => line.startsWith('idstitch_device='))!
    .split(';')[0]!;
  await request(app).get('/').set('Cookie', kioskCookie); // Erin browses: attributed to Dave
  await request(app).get('/pricing').set('Cookie', kioskCookie);
  const erin = await request(app)
    .post('/signup')
    .set('Cookie', kioskCookie)
    .type('form')
    .send(form({ name: 'Erin', email: 'erin@example.com', password: PASSWORD }));
  expect(erin.status).toBe(303);

  // A visitor who only browses.
  const visitorAgent = request.agent(app);
  const visitor = deviceOf(await visitorAgent.get('/'));
  await visitorAgent.get('/pricing');

  // Profiles set while anonymous: on the kiosk's device (later linked to Dave) and on the visitor's.
  await engage(target, [
    { $token: TOKEN, $distinct_id: `$device:${kiosk}`, $set: { plan: 'trial' } },
    { $token: TOKEN, $distinct_id: `$device:${visitor}`, $set: { theme: 'dark' } },
  ]);
  // A placeholder user id, on /track (strict /import refuses it; the collector here accepts it on /track).
  const now = Date.now();
  const purchase = await trackEvents(target.url, [
    {
      event: 'Purchased',
      properties: { token: TOKEN, time: now, $insert_id: randomUUID(), $device_id: randomUUID(), $user_id: 'undefined' },
    },
  ]);
  expect(purchase.json).toEqual({ status: 1, error: null });
  // Server-side events keyed by e-mail with a constant $insert_id, and a retried batch.
  const invoice = (time: number, insertId: string) => ({
    event: 'Invoice Paid',
    properties: { time, $insert_id: insertId, distinct_id: 'frank@example.com' },
  });
  expect((await importEvents(target.url, [invoice(now - 60_000, 'invoice-paid'), invoice(now - 30_000, 'invoice-paid')])).status).toBe(200);
  const retried = [{ event: 'Viewed Invoice', properties: { time: now, $insert_id: 'view-1', distinct_id: 'frank@example.com' } }];
  expect((await importEvents(target.url, retried)).status).toBe(200);
  expect((await importEvents(target.url, retried)).status).toBe(200);

  await tracker.flush();
  return { shared, kiosk, visitor };
}

/** The proper flows: browse, sign up, log out, a second user signs up; a returning user on a new browser; a profile on a user id. */
async function driveCleanFlows(target: Collector): Promise<void> {
  const { app, tracker, users } = exampleApp(target);
  const browser = request.agent(app);
  await browser.get('/');
  await browser.get('/pricing');
  await signUp(browser, 'Ada');
  await browser.get('/pricing');
  expect((await browser.post('/logout')).status).toBe(303);
  await browser.get('/');
  await signUp(browser, 'Grace');
  await browser.get('/pricing');
  const phone = request.agent(app);
  await phone.get('/pricing');
  await logIn(phone, 'Ada');
  await tracker.flush();
  expect(users.size).toBe(2);
  const ada = (await target.store.allEvents()).find((e) => e.event === 'Signed Up')!.userId!;
  await engage(target, [{ $token: TOKEN, $distinct_id: ada, $set: { plan: 'pro' } }]);
}

const PLANTED: Record<CheckId, [string, number]> = {
  'pre-post-login': ['fail', 2],
  'shared-devices': ['fail', 2],
  'anonymous-profiles': ['fail', 2],
  'unidentified-users': ['warn', 1],
  'denylisted-ids': ['fail', 1],
  'suspicious-ids': ['warn', 1],
  'insert-ids': ['fail', 2],
};

function counts(report: DoctorReport): Record<string, [string, number]> {
  return Object.fromEntries(report.checks.map((c) => [c.id, [c.status, c.count]]));
}

function checkOf(report: DoctorReport, id: CheckId) {
  return report.checks.find((c) => c.id === id)!;
}

describe('idstitch doctor on the example app driven through wrong flows', () => {
  it('finds every planted mistake through the API and GET /api/doctor, with the events each one cost', async () => {
    const target = await collector({ denylistedIdsOnTrack: 'accept' });
    const { shared, kiosk, visitor } = await driveWrongFlows(target);
    const report = await runDoctor({ collector: target });
    expect(report.status).toBe('fail');
    expect(counts(report)).toEqual(PLANTED);

    const devices = checkOf(report, 'shared-devices');
    expect(devices.facts).toEqual({ misattributed_events: 2, refused_links: 5 });
    const byDevice = Object.fromEntries(devices.examples.map((e) => [e.subject, e.facts]));
    expect(byDevice[`$device:${shared}`]).toMatchObject({ misattributed_events: 0, refused_links: 3 });
    expect(byDevice[`$device:${kiosk}`]).toMatchObject({ misattributed_events: 2, refused_links: 2 });
    const kioskEvents = devices.examples.find((e) => e.subject === `$device:${kiosk}`)!.events;
    expect(kioskEvents.map((e) => [e.event, e.user_id])).toEqual([
      ['Viewed Home', null],
      ['Viewed Pricing', null],
      ['User Identified', expect.any(String)],
      ['Signed Up', expect.any(String)],
    ]);
    expect(kioskEvents.every((e) => typeof e.insert_id === 'string' && typeof e.time === 'number')).toBe(true);

    const logins = checkOf(report, 'pre-post-login');
    expect(logins.examples.map((e) => e.facts.misattributed_events).sort()).toEqual([0, 2]);
    expect(logins.facts).toMatchObject({ misattributed_events: 2 });

    const profiles = checkOf(report, 'anonymous-profiles');
    expect(profiles.facts).toEqual({ duplicate_profiles: 1 });
    expect(profiles.examples.map((e) => [e.subject, e.facts.linked_user === null])).toEqual([
      [`$device:${kiosk}`, false],
      [`$device:${visitor}`, true],
    ]);

    expect(checkOf(report, 'denylisted-ids').examples.map((e) => e.subject)).toEqual(['undefined']);
    expect(checkOf(report, 'unidentified-users').examples[0]).toMatchObject({ subject: 'frank@example.com', facts: { events: 4 } });
    expect(checkOf(report, 'suspicious-ids').examples[0]).toMatchObject({ subject: 'frank@example.com', facts: { reason: 'email' } });
    expect(checkOf(report, 'insert-ids').facts).toEqual({ reused_ids: 1, colliding_ids: 1, missing: 0, copies: 1 });

    // The collector's own route answers the same report.
    const api = await send(target.url, '/api/doctor');
    expect(api.status).toBe(200);
    expect(api.json).toEqual(JSON.parse(JSON.stringify(report)));
    expect(await runDoctor({ url: target.url })).toEqual(api.json);
    expect(
      (await send(target.url, '/api/doctor?examples=1')).json.checks.find((c: { id: string }) => c.id === 'shared-devices').examples,
    ).toHaveLength(1);
    expect((await send(target.url, '/api/doctor?examples=101')).status).toBe(400);

    // An NDJSON export of the same events and profiles (Mixpanel's export shape) gives the same verdicts.
    const lines = target.store.allEvents().map((row) => JSON.stringify({ event: row.event, properties: JSON.parse(row.properties) }));
    for (const id of [`$device:${kiosk}`, `$device:${visitor}`])
      lines.push(JSON.stringify({ $distinct_id: id, $properties: target.store.getProfile(id)!.properties }));
    const file = join(dir, 'export.ndjson');
    writeFileSync(file, lines.join('\n') + '\n');
    expect(counts(await runDoctor({ ndjson: file }))).toEqual(PLANTED);

    // `idstitch doctor --url`, as a process: exit code 1, and JSON that parses to the same checks.
    const cli = await runCli('doctor', '--url', target.url, '--json');
    expect([cli.code, cli.stderr]).toEqual([1, '']);
    expect(counts(JSON.parse(cli.stdout) as DoctorReport)).toEqual(PLANTED);
    const text = await runCli('doctor', '--url', target.url);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain(`✗ fail  No device is used by two users (the device id is reset on logout): 2 devices`);
    expect(text.stdout).toContain(`- $device:${kiosk}: linked to`);
    expect(text.stdout).toMatch(/Result: 5 fail, 2 warn, 0 pass\.\n$/);
  });

  it('finds the same mistakes with `idstitch doctor --db` on a SQLite file collector', async () => {
    const file = join(dir, 'wrong.sqlite');
    const target = await collector({ denylistedIdsOnTrack: 'accept', storage: file });
    await driveWrongFlows(target);
    const cli = await runCli('doctor', '--db', file, '--json');
    expect([cli.code, cli.stderr]).toEqual([1, '']);
    const report = JSON.parse(cli.stdout) as DoctorReport;
    expect(report.source).toBe(`collector database ${file}`);
    expect(counts(report)).toEqual(PLANTED);
    expect(checkOf(report, 'shared-devices').facts).toEqual({ misattributed_events: 2, refused_links: 5 });
    // The collector keeps running and ingesting while the doctor reads its file.
    expect((await runDoctor({ collector: target })).checks.map((c) => c.count)).toEqual(report.checks.map((c) => c.count));
  });

  it('reports pass for the clean flows (logout between users), by API, --url and --db', async () => {
    const file = join(dir, 'clean.sqlite');
    const target = await collector({ storage: file });
    await driveCleanFlows(target);
    const report = await runDoctor({ collector: target });
    expect(counts(report)).toEqual(Object.fromEntries(Object.keys(PLANTED).map((id) => [id, ['pass', 0]])));
    expect(report.status).toBe('pass');
    expect(checkOf(report, 'pre-post-login').facts).toEqual({ identified_users: 2, stitched_users: 2, misattributed_events: 0 });
    // One profile per user: the example's sign-up sets it while anonymous, idstitch holds it until
    // identifyUser and sends it to the user, so no $device: profile appears.
    expect(report.totals).toMatchObject({ users: 2, devices: 3, profiles: 2 });

    const url = await runCli('doctor', '--url', target.url);
    expect([url.code, url.stderr]).toEqual([0, '']);
    expect(url.stdout).toContain('Result: 0 fail, 0 warn, 7 pass.');
    const db = await runCli('doctor', '--db', file, '--json');
    expect(db.code).toBe(0);
    expect((JSON.parse(db.stdout) as DoctorReport).status).toBe('pass');
  });
});

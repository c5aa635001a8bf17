// Drives the Koa, Fastify and NestJS examples (examples/koa, examples/fastify, examples/nest) over HTTP against the local
// collector, with a cookie jar per browser (supertest agents), and checks what the collector
// derived. Flows: browse anonymously, sign up (Ada), log out, sign up a second user (Grace) on the
// same browser; then, on a second browser, log in as Ada (returning user on a new device). The
// Express example runs the same flows in a real browser (express.browser.test.ts).
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from '../../src/collector/index.js';
import type { IdstitchError, Tracker } from '../../src/index.js';
import type { ExampleAppOptions } from '../../examples/express/app.js';
import { createApp as createFastifyApp } from '../../examples/fastify/app.js';
import { createApp as createKoaApp } from '../../examples/koa/app.js';
import { createApp as createNestApp } from '../../examples/nest/app.js';

const PASSWORD = 'correct horse battery staple';
type Browser = ReturnType<typeof request.agent>;

/** The ids the example's "who am I" page shows; '—' means none. */
async function whoami(browser: Browser): Promise<{ deviceId: string; userId: string | undefined }> {
  const page = await browser.get('/whoami').expect(200);
  const cell = (id: string): string => new RegExp(`<code id="${id}">([^<]*)</code>`).exec(page.text)?.[1] ?? '';
  const userId = cell('user-id');
  return { deviceId: cell('device-id'), userId: userId === '—' ? undefined : userId };
}

async function signUp(browser: Browser, name: string, email: string): Promise<void> {
  await browser.post('/signup').type('form').send({ name, email, password: PASSWORD }).expect(303).expect('location', '/whoami');
}

/** Starts an example app on a free port; resolves to its server and tracker. */
type StartExample = (options: ExampleAppOptions) => Promise<{ server: Server; tracker: Tracker }>;

const EXAMPLES: Array<[string, StartExample]> = [
  [
    'Koa',
    async (options) => {
      const { app, tracker } = createKoaApp(options);
      return { server: app.listen(0, '127.0.0.1'), tracker };
    },
  ],
  [
    'Fastify',
    async (options) => {
      const { app, tracker } = await createFastifyApp(options);
      return { server: app.server.listen(0, '127.0.0.1'), tracker };
    },
  ],
  [
    'NestJS',
    async (options) => {
      const { app, tracker } = await createNestApp(options);
      return { server: (app.getHttpServer() as Server).listen(0, '127.0.0.1'), tracker };
    },
  ],
];

describe.each(EXAMPLES)('the %s example over HTTP', (_name, start) => {
  let collector: Collector;
  let tracker: Tracker;
  let server: Server;
  const errors: IdstitchError[] = [];

  beforeAll(async () => {
    collector = await startCollector({ port: 0 });
    ({ server, tracker } = await start({
      apiHost: collector.url,
      token: 'example',
      collectorUrl: collector.url,
      trackerOptions: { flushIntervalMs: 200, onError: (error) => errors.push(error) },
    }));
    await new Promise<void>((resolve) => server.once('listening', resolve));
  });

  afterAll(async () => {
    server?.close();
    await tracker?.shutdown({ timeoutMs: 2000 });
    await collector?.close();
  });

  const api = async <T>(path: string): Promise<T> => (await (await fetch(collector.url + path)).json()) as T;
  type Identity = { distinct_id: string; user_id: string | null; device_ids: string[] };
  type Feed = {
    events: Array<{ event: string; device_id: string | null; user_id: string | null; original_distinct_id: string; distinct_id: string }>;
  };
  type Users = { users: Array<{ distinct_id: string; user_id: string | null; device_ids: string[]; event_count: number }> };

  it('stitches anonymous browsing to sign-up, keeps two users on one browser apart, and links a returning user’s new device', async () => {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const first = request.agent(base);
    const home = await first.get('/').expect(200);
    // Signed: the example gives idstitch a cookie secret (which also lets anonymous profile updates be held).
    expect(home.headers['set-cookie']).toEqual([expect.stringMatching(/^idstitch_device=[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}; /)]);
    expect(home.headers['content-security-policy']).toContain("default-src 'none'");
    await first.get('/pricing').expect(200);
    const anonymous = await whoami(first);
    expect(anonymous.deviceId).toMatch(/^[0-9a-f-]{36}$/);
    expect(anonymous.userId).toBeUndefined();

    await signUp(first, 'Ada Lovelace', 'ada@example.com');
    const ada = await whoami(first);
    expect(ada.deviceId).toBe(anonymous.deviceId); // login never rotates: the link needs the same device
    expect(ada.userId).toMatch(/^user-/);

    await first.post('/logout').expect(303).expect('location', '/');
    const afterLogout = await whoami(first);
    expect(afterLogout.deviceId).toMatch(/^[0-9a-f-]{36}$/);
    expect(afterLogout.deviceId).not.toBe(ada.deviceId); // logout rotates, like the SDK's reset()
    expect(afterLogout.userId).toBeUndefined();

    await first.get('/').expect(200);
    await signUp(first, 'Grace Hopper', 'grace@example.com');
    const grace = await whoami(first);
    expect(grace.deviceId).toBe(afterLogout.deviceId);
    expect(grace.userId).toMatch(/^user-/);
    expect(grace.userId).not.toBe(ada.userId);

    const second = request.agent(base);
    await second.get('/pricing').expect(200);
    const newDevice = await whoami(second);
    await second.post('/login').type('form').send({ email: 'ada@example.com', password: 'wrong password!' }).expect(401);
    await second
      .post('/login')
      .type('form')
      .send({ email: 'ada@example.com', password: PASSWORD })
      .expect(303)
      .expect('location', '/whoami');
    expect(await whoami(second)).toEqual({ deviceId: newDevice.deviceId, userId: ada.userId });

    await tracker.flush();
    const stats = tracker.stats();
    expect(stats.queued).toBe(0);
    expect(Object.values(stats.dropped).every((count) => count === 0)).toBe(true);
    // First browser: Viewed Home, Viewed Pricing, User Identified, Signed Up, Logged Out, Viewed Home,
    // User Identified, Signed Up; second: Viewed Pricing, User Identified, Logged In.
    expect(stats.tracked).toBe(11);
    expect(stats.delivered).toBe(11);
    const { users } = await api<Users>('/api/users');
    expect(users.reduce((sum, user) => sum + user.event_count, 0)).toBe(11);
    expect(users.map((user) => user.user_id).sort()).toEqual([ada.userId, grace.userId].sort());

    const adaCluster = await api<Identity>(`/api/identity/${encodeURIComponent(ada.userId!)}`);
    const graceCluster = await api<Identity>(`/api/identity/${encodeURIComponent(grace.userId!)}`);
    expect(adaCluster.device_ids).toEqual([ada.deviceId, newDevice.deviceId].sort());
    expect(graceCluster.device_ids).toEqual([grace.deviceId]);

    const adaFeed = await api<Feed>(`/api/events?distinct_id=${encodeURIComponent(ada.userId!)}`);
    const firstView = adaFeed.events.find((e) => e.event === 'Viewed Home' && e.device_id === ada.deviceId);
    expect(firstView).toMatchObject({ original_distinct_id: `$device:${ada.deviceId}`, distinct_id: ada.userId }); // retroactive
    expect(adaFeed.events.find((e) => e.event === 'Logged Out')).toMatchObject({ user_id: ada.userId, device_id: ada.deviceId });
    expect(adaFeed.events.find((e) => e.event === 'Logged In')).toMatchObject({ user_id: ada.userId, device_id: newDevice.deviceId });
    const graceFeed = await api<Feed>(`/api/events?distinct_id=${encodeURIComponent(grace.userId!)}`);
    expect(graceFeed.events.find((e) => e.event === 'Viewed Home')).toMatchObject({ device_id: grace.deviceId, distinct_id: grace.userId });
    expect(graceFeed.events.some((e) => e.device_id === ada.deviceId)).toBe(false);
    expect(errors).toEqual([]);
  });

  it('refuses a form over the size limit without tracking anything', async () => {
    const before = tracker.stats().tracked;
    const browser = request.agent(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    await browser
      .post('/signup')
      .type('form')
      .send({ name: 'x'.repeat(20_000), email: 'big@example.com', password: PASSWORD })
      .expect(413);
    await browser.post('/login').type('json').send({ email: 'a', password: 'b' }).expect(415);
    expect(tracker.stats().tracked).toBe(before);
  });
});

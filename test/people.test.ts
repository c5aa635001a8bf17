// Profiles for identified users only, per-request super properties and the user id property,
// through Express and Koa over real HTTP: a stub records /engage, and one flow runs into the
// collector to show that no `$device:` profile is ever created.
import express, { type Express, type Request } from 'express';
import Koa from 'koa';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { identifyUser, resetUser, tracking, type TrackingMiddleware } from '../adapters/express.js';
import { identifyUser as identifyCtx, tracking as koaTracking } from '../adapters/koa.js';
import { startCollector } from '../src/collector/index.js';
import type { IdstitchError, TrackerOptions } from '../src/index.js';
import { MAX_HELD_UPDATES } from '../src/people.js';
import { startIngestStub, type IngestStub } from './support/ingest-stub.js';

let stub: IngestStub;
let errors: IdstitchError[];
let middleware: TrackingMiddleware | { tracker: TrackingMiddleware['tracker'] } | undefined;

beforeEach(async () => {
  stub = await startIngestStub();
  // /engage answers like /track?verbose=1.
  stub.otherwise((req) => (req.path === '/engage' ? { body: { status: 1, error: null } } : {}));
  errors = [];
});

afterEach(async () => {
  await middleware?.tracker.shutdown({ timeoutMs: 2000 });
  middleware = undefined;
  await stub.close();
});

/** Holding anonymous updates needs a cookie secret (nothing public can sign them). */
const SECRET = 'people-test-secret-0123456789';

/** An app where `?user=` signs in through req.user, POST /login?user= identifies, and `routes` add the rest. */
function appWith(routes: (app: Express) => void, options: TrackerOptions = {}): Express {
  const m = tracking({
    apiHost: stub.url,
    token: 'people-token',
    cookie: { secret: SECRET },
    onError: (error) => errors.push(error),
    ...options,
  });
  middleware = m;
  const app = express();
  app.use((req, _res, next) => {
    const user = new URL(req.url, 'http://x').searchParams.get('as');
    if (user) (req as Request & { user?: unknown }).user = { id: user };
    next();
  });
  app.use(m);
  app.post('/login', (req, res) => {
    identifyUser(req, String(req.query.user));
    res.send('ok');
  });
  routes(app);
  return app;
}

/** The profile updates /engage received, in order. */
async function engaged(): Promise<Array<Record<string, unknown>>> {
  await middleware!.tracker.flush();
  return stub.requests.filter((r) => r.path === '/engage').flatMap((r) => r.events as unknown as Array<Record<string, unknown>>);
}

/** The events /import received, in order (stub.events() has the /engage updates too). */
function imported(): Array<{ event: string; properties: Record<string, unknown> }> {
  return stub.requests.filter((r) => r.path === '/import').flatMap((r) => r.events);
}

function profileCookie(response: request.Response): string | undefined {
  const lines = ([] as string[]).concat(response.headers['set-cookie'] ?? []).filter((line) => line.startsWith('idstitch_device_profile='));
  expect(lines.length).toBeLessThanOrEqual(1);
  return lines[0];
}

describe('req.people: profiles for identified users only', () => {
  it('sends an identified user\'s update to /engage at once: $token, $distinct_id = the user id, $ip "0", no gzip', async () => {
    const app = appWith((a) =>
      a.post('/plan', (req, res) => {
        req.people.set({ plan: 'pro', seats: 3 });
        req.people.increment({ logins: 1 });
        req.people.union({ tags: ['beta'] });
        req.people.unset(['trial_ends']);
        res.send('ok');
      }),
    );
    await request(app).post('/plan?as=u-42').expect(200);
    expect(await engaged()).toEqual([
      { $token: 'people-token', $distinct_id: 'u-42', $ip: '0', $set: { plan: 'pro', seats: 3 } },
      { $token: 'people-token', $distinct_id: 'u-42', $ip: '0', $add: { logins: 1 } },
      { $token: 'people-token', $distinct_id: 'u-42', $ip: '0', $union: { tags: ['beta'] } },
      { $token: 'people-token', $distinct_id: 'u-42', $ip: '0', $unset: ['trial_ends'] },
    ]);
    const engage = stub.requests.find((r) => r.path === '/engage')!;
    expect(engage.query.get('ip')).toBe('0');
    expect(engage.headers['content-encoding']).toBeUndefined();
    expect(middleware!.tracker.stats().profiles).toMatchObject({ tracked: 4, delivered: 4, held: 0 });
  });

  it("holds an anonymous browser's updates in a signed cookie, sends them on sign-in, then clears the cookie", async () => {
    const app = appWith((a) =>
      a.post('/prefs', (req, res) => {
        req.people.set({ theme: 'dark' });
        req.people.setOnce({ first_seen_plan: 'free' });
        res.send('ok');
      }),
    );
    const browser = request.agent(app);
    const anonymous = await browser.post('/prefs').expect(200);
    const cookie = profileCookie(anonymous)!;
    expect(cookie).toMatch(
      /^idstitch_device_profile=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}; Max-Age=34560000; Path=\/; HttpOnly; SameSite=Lax$/,
    );
    expect(cookie).not.toContain('dark'); // encoded, not readable at a glance (and HttpOnly)
    expect(await engaged(), 'no $device: profile').toEqual([]);

    const login = await browser.post('/login?user=ada').expect(200);
    expect(profileCookie(login)).toMatch(/^idstitch_device_profile=; Max-Age=0;/);
    expect(await engaged()).toEqual([
      { $token: 'people-token', $distinct_id: 'ada', $ip: '0', $set: { theme: 'dark' } },
      { $token: 'people-token', $distinct_id: 'ada', $ip: '0', $set_once: { first_seen_plan: 'free' } },
    ]);
    expect(middleware!.tracker.stats().profiles).toMatchObject({ held: 2, released: 2, delivered: 2 });

    await browser.post('/login?user=ada').expect(200);
    expect(await engaged(), 'released once').toHaveLength(2);
  });

  it('ignores a forged or edited profile cookie: nothing is sent from it', async () => {
    const app = appWith(() => undefined);
    const forged =
      Buffer.from(JSON.stringify({ d: '6f1c2a4e-9b7d-4c3e-8a2f-1d0e9c8b7a65', u: [['set', { plan: 'enterprise' }]] })).toString(
        'base64url',
      ) +
      '.' +
      'A'.repeat(43);
    const login = await request(app).post('/login?user=ada').set('Cookie', `idstitch_device_profile=${forged}`).expect(200);
    expect(await engaged()).toEqual([]);
    expect(profileCookie(login)).toBeUndefined(); // nothing held, nothing released: the stale cookie is left to expire unread
  });

  it('never gives held updates to anyone but the first user identified on that device: resetUser and a user switch drop them', async () => {
    const app = appWith((a) => {
      a.post('/note', (req, res) => {
        req.people.set({ secret_note: String(req.query.note) });
        res.send('ok');
      });
      a.post('/logout', (req, res) => {
        resetUser(req);
        res.send('ok');
      });
    });
    const browser = request.agent(app);
    // Someone writes a note anonymously, then the browser is reset (a logout), then another person signs in.
    await browser.post('/note?note=mine').expect(200);
    const reset = await browser.post('/logout').expect(200);
    expect(profileCookie(reset), 'the held cookie is cleared on reset').toMatch(/^idstitch_device_profile=; Max-Age=0;/);
    await browser.post('/login?user=grace').expect(200);
    expect(await engaged()).toEqual([]);

    // Grace's device: anonymous notes after her session ended, then someone else signs in without a logout.
    await browser.post('/note?note=after-grace').expect(200);
    const switched = await browser.post('/login?user=lin').expect(200);
    expect(middleware!.tracker.stats().identity.switched).toBe(1);
    expect(profileCookie(switched)).toMatch(/^idstitch_device_profile=; Max-Age=0;/);
    expect(await engaged(), "lin never receives what was held on grace's device").toEqual([]);
    expect(middleware!.tracker.stats().profiles).toMatchObject({ held: 2, released: 0 });
  });

  it('a held cookie copied onto another device id holds nothing there', async () => {
    const app = appWith((a) =>
      a.post('/note', (req, res) => {
        req.people.set({ note: 'x' });
        res.send('ok');
      }),
    );
    const first = await request(app).post('/note').expect(200);
    const held = profileCookie(first)!.split(';')[0]!;
    const otherDevice = 'idstitch_device=0b8f8c1e-2d3a-4f5b-9c6d-7e8f9a0b1c2d';
    await request(app).post('/login?user=ada').set('Cookie', `${held}; ${otherDevice}`).expect(200);
    expect(await engaged()).toEqual([]);
  });

  it('holds nothing without cookie.secret: IDSTITCH_PROFILE_NEEDS_SECRET is reported once, updates counted as notHeld', async () => {
    const app = appWith(
      (a) =>
        a.post('/prefs', (req, res) => {
          req.people.set({ theme: 'dark' });
          req.people.set({ plan: 'free' });
          res.send('ok');
        }),
      { cookie: {} },
    );
    const browser = request.agent(app);
    const anonymous = await browser.post('/prefs').expect(200);
    await browser.post('/prefs').expect(200);
    expect(profileCookie(anonymous)).toBeUndefined();
    // A cookie "signed" with what a token-keyed scheme would use is not even read.
    await browser
      .post('/login?user=ada')
      .set('Cookie', 'idstitch_device_profile=anything.' + 'A'.repeat(43))
      .expect(200);
    expect(await engaged()).toEqual([]);
    expect(errors.map((e) => e.code)).toEqual(['IDSTITCH_PROFILE_NEEDS_SECRET']);
    expect(middleware!.tracker.stats().profiles).toMatchObject({ held: 0, notHeld: 4 });
  });

  it("applies a user's updates in the order they were made, even when the first request to /engage is retried", async () => {
    const app = appWith(
      (a) =>
        a.post('/plan', (req, res) => {
          req.people.set({ plan: String(req.query.plan) });
          res.send('ok');
        }),
      { flushAt: 1, minRetryDelayMs: 50, maxRetryDelayMs: 100 },
    );
    let first = true;
    stub.otherwise((req) => {
      if (req.path !== '/engage') return {};
      if (first) {
        first = false;
        return { status: 503 };
      }
      return { body: { status: 1, error: null } };
    });
    await request(app).post('/plan?as=ada&plan=free').expect(200);
    await stub.waitForRequests(1);
    await request(app).post('/plan?as=ada&plan=pro').expect(200);
    await middleware!.tracker.flush();
    const answered = stub.requests
      .filter((r) => r.path === '/engage' && r.outcome === 200)
      .flatMap((r) => r.events as unknown as Array<{ $set: { plan: string } }>);
    expect(
      answered.map((update) => update.$set.plan),
      'the last update applied is the last one made',
    ).toEqual(['free', 'pro']);
  });

  it(`holds at most ${MAX_HELD_UPDATES} updates; the rest are counted as notHeld and reported once`, async () => {
    const app = appWith((a) =>
      a.post('/many', (req, res) => {
        for (let i = 0; i < MAX_HELD_UPDATES + 3; i++) req.people.set({ [`p${i}`]: i });
        res.send('ok');
      }),
    );
    await request(app).post('/many').expect(200);
    expect(middleware!.tracker.stats().profiles).toMatchObject({ held: MAX_HELD_UPDATES, notHeld: 3 });
    expect(errors.map((e) => e.code)).toEqual(['IDSTITCH_PROFILE_HELD_FULL']);
  });

  it('refuses invalid updates with IDSTITCH_INVALID_PROFILE_UPDATE, counts them, and never throws into the route', async () => {
    const app = appWith((a) =>
      a.post('/bad', (req, res) => {
        req.people.increment({ logins: 'one' } as unknown as Record<string, number>);
        req.people.set({});
        req.people.union({ tags: 'beta' } as unknown as Record<string, unknown[]>);
        req.people.unset([] as string[]);
        req.people.set(JSON.parse('{"__proto__": {"admin": true}}') as Record<string, unknown>);
        req.people.set({ ok: true });
        res.send('ok');
      }),
    );
    await request(app).post('/bad?as=u1').expect(200);
    expect(errors.map((e) => e.code)).toEqual(Array(5).fill('IDSTITCH_INVALID_PROFILE_UPDATE'));
    expect(await engaged()).toEqual([{ $token: 'people-token', $distinct_id: 'u1', $ip: '0', $set: { ok: true } }]);
    expect(middleware!.tracker.stats().profiles.dropped.invalid_event).toBe(5);
  });

  it("into the collector: an anonymous update reaches the user's profile after sign-up, and no $device: profile exists", async () => {
    const collector = await startCollector({ port: 0 });
    try {
      const m = tracking({ apiHost: collector.url, token: 'collector-token', cookie: { secret: SECRET } });
      middleware = m;
      const app = express();
      app.use(m);
      app.post('/prefs', (req, res) => {
        req.people.set({ theme: 'dark' });
        req.track('Changed Theme');
        res.send('ok');
      });
      app.post('/signup', (req, res) => {
        identifyUser(req, 'grace');
        res.send('ok');
      });
      const browser = request.agent(app);
      await browser.post('/prefs').expect(200);
      await browser.post('/signup').expect(200);
      await m.tracker.flush();
      const profile = (await (await fetch(`${collector.url}/api/profiles/grace`)).json()) as { properties: Record<string, unknown> };
      expect(profile.properties).toMatchObject({ theme: 'dark' });
      const device = collector.store.allEvents().find((e) => e.event === 'Changed Theme')!.deviceId!;
      expect((await fetch(`${collector.url}/api/profiles/${encodeURIComponent(`$device:${device}`)}`)).status).toBe(404);
    } finally {
      await middleware?.tracker.shutdown({ timeoutMs: 2000 });
      middleware = undefined;
      await collector.close();
    }
  });
});

describe('req.register and userIdProperty', () => {
  it("adds registered properties to the rest of the request's events, under the event's own and over superProperties", async () => {
    const app = appWith(
      (a) =>
        a.get('/', (req, res) => {
          req.track('Before');
          req.register({ experiment: 'B', source: 'request' });
          req.register({ cohort: 7 });
          req.track('After', { source: 'event' });
          res.send('ok');
        }),
      { superProperties: { app: 'web', source: 'tracker', experiment: 'A' } },
    );
    await request(app).get('/').expect(200);
    await middleware!.tracker.flush();
    const [before, after] = imported();
    expect(before!.properties).toMatchObject({ app: 'web', source: 'tracker', experiment: 'A' });
    expect(before!.properties).not.toHaveProperty('cohort');
    expect(after!.properties).toMatchObject({ app: 'web', experiment: 'B', cohort: 7, source: 'event' });
  });

  it('userIdProperty: identified events carry the user id under that name, and identifyUser sets it on the profile', async () => {
    const app = appWith(
      (a) =>
        a.get('/', (req, res) => {
          req.track('Viewed Home');
          res.send('ok');
        }),
      { userIdProperty: 'user_id' },
    );
    await request(app).get('/').expect(200);
    await request(app).get('/?as=u-7').expect(200);
    await request(app).post('/login?user=u-8').expect(200);
    await middleware!.tracker.flush();
    const events = imported();
    expect(events.map((e) => [e.event, e.properties.user_id])).toEqual([
      ['Viewed Home', undefined],
      ['Viewed Home', 'u-7'],
      ['User Identified', 'u-8'],
    ]);
    expect(await engaged()).toEqual([{ $token: 'people-token', $distinct_id: 'u-8', $ip: '0', $set: { user_id: 'u-8' } }]);
  });

  it('refuses userIdProperty that is not a string at construction', () => {
    expect(() => tracking({ apiHost: stub.url, userIdProperty: 42 as unknown as string })).toThrow(/userIdProperty/);
  });
});

describe('Koa: ctx.people and ctx.register', () => {
  it('holds, releases on identifyUser(ctx), and registers for the rest of the request', async () => {
    const m = koaTracking({ apiHost: stub.url, token: 'people-token', cookie: { secret: SECRET } });
    middleware = { tracker: m.tracker };
    const app = new Koa();
    app.use(m);
    app.use((ctx) => {
      if (ctx.path === '/prefs') ctx.people.set({ theme: 'light' });
      if (ctx.path === '/login') {
        ctx.register({ via: 'koa' });
        identifyCtx(ctx, 'lin');
        ctx.track('Logged In');
      }
      ctx.body = 'ok';
    });
    const browser = request.agent(app.callback());
    await browser.post('/prefs').expect(200);
    await browser.post('/login').expect(200);
    expect(await engaged()).toEqual([{ $token: 'people-token', $distinct_id: 'lin', $ip: '0', $set: { theme: 'light' } }]);
    expect(imported().map((e) => [e.event, e.properties.via])).toEqual([
      ['User Identified', 'koa'],
      ['Logged In', 'koa'],
    ]);
  });
});

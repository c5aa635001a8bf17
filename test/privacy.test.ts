// Privacy: Global Privacy Control honoured by default, Do Not Track on request, and the app's
// consent hook, through Express and Koa over real HTTP and Next's own request objects. An
// opted-out request gets no cookie and sends nothing; what it tried is counted.
import 'next/dist/server/node-environment-baseline.js';
import { createRequire } from 'node:module';
import express, { type Express, type Request } from 'express';
import Koa3, { type Context } from 'koa';
import { redirect } from 'next/navigation.js';
import { NextRequest } from 'next/server.js';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { coreOf } from '../src/adapter.js';
import { identifyUser, identityOf, resetUser, tracking as expressTracking, type TrackingMiddleware } from '../adapters/express.js';
import { tracking as koaTracking } from '../adapters/koa.js';
import { nextTracking, type NextTrackingOptions, type UserIdSource } from '../adapters/next/index.js';
import { ConfigError, createTracker, type IdstitchError, type Tracker, type TrackerOptions } from '../src/index.js';
import { startIngestStub, type IngestStub } from './support/ingest-stub.js';
import { runInNextRequest } from './support/next-request-scope.js';
import { setCookies } from './support/set-cookies.js';

const Koa2 = createRequire(import.meta.url)('koa2') as typeof Koa3;
const ID = '6f1c2a4e-9b7d-4c3e-8a2f-1d0e9c8b7a65';

let stub: IngestStub;
let errors: IdstitchError[];
let closers: Array<() => Promise<void>>;

beforeEach(async () => {
  stub = await startIngestStub();
  errors = [];
  closers = [];
});

afterEach(async () => {
  for (const close of closers) await close();
  await stub.close();
});

function options(extra: TrackerOptions = {}): TrackerOptions {
  return { apiHost: stub.url, token: 't', flushIntervalMs: 600_000, onError: (error) => errors.push(error), ...extra };
}

describe('Express', () => {
  let middleware: TrackingMiddleware;

  /** Signup-like route: tracks, identifies, tracks again, updates the profile. */
  function app(extra: TrackerOptions = {}): Express {
    middleware = expressTracking(options(extra));
    closers.push(() => middleware.tracker.shutdown({ timeoutMs: 2000 }));
    const application = express();
    application.use(middleware);
    application.post('/signup', (req, res) => {
      req.track('Signed Up');
      identifyUser(req, 'u1');
      req.track('Viewed Welcome');
      res.json(identityOf(req));
    });
    application.post('/profile', (req, res) => {
      req.people.set({ plan: 'pro' });
      res.send('ok');
    });
    application.post('/logout', (req, res) => {
      req.track('Logged Out');
      resetUser(req);
      res.send('ok');
    });
    return application;
  }

  async function sent(): Promise<number> {
    await middleware.tracker.flush();
    return stub.events().length;
  }

  it('opts out a request with Sec-GPC: 1 by default: no cookie, nothing sent, every attempt counted', async () => {
    const response = await request(app()).post('/signup').set('Sec-GPC', '1').expect(200);
    expect(setCookies(response)).toEqual([]);
    expect(response.headers['cache-control']).toBeUndefined();
    expect(response.body).toMatchObject({ userId: 'u1' }); // the app still sees its user
    expect(await sent()).toBe(0);
    expect(stub.requests).toHaveLength(0);
    const stats = middleware.tracker.stats();
    expect(stats.dropped.opted_out).toBe(3); // two tracks and the identify
    expect(stats.identity).toMatchObject({ optedOut: 1, issued: 0, rotated: 0 });
    expect(stats.tracked).toBe(0);
    expect(errors).toEqual([]);
  });

  it('drops profile updates of an opted-out request, holding nothing in a cookie', async () => {
    const response = await request(app()).post('/profile').set('Sec-GPC', '1');
    expect(setCookies(response)).toEqual([]);
    expect(middleware.tracker.stats().profiles).toMatchObject({ dropped: { opted_out: 1 }, held: 0 });
  });

  it('neither rotates nor deletes an existing device cookie on an opted-out logout', async () => {
    const response = await request(app()).post('/logout').set('Sec-GPC', '1').set('Cookie', `idstitch_device=${ID}`);
    expect(setCookies(response)).toEqual([]);
    expect(await sent()).toBe(0);
  });

  it('tracks the next request that does not send the signal, with the same device id', async () => {
    const application = app();
    const agent = request.agent(application);
    const first = await agent.post('/signup'); // no signal: cookie issued
    const deviceId = (first.body as { deviceId: string }).deviceId;
    const optedOut = await agent.post('/signup').set('Sec-GPC', '1');
    expect((optedOut.body as { deviceId: string }).deviceId).toBe(deviceId);
    expect(setCookies(optedOut)).toEqual([]);
    expect(await sent()).toBe(3);
  });

  it('tracks GPC requests with privacy.gpc: false', async () => {
    const response = await request(app({ privacy: { gpc: false } }))
      .post('/signup')
      .set('Sec-GPC', '1');
    expect(setCookies(response)).toHaveLength(1);
    expect(await sent()).toBe(3);
  });

  it('ignores Sec-GPC values other than 1', async () => {
    await request(app()).post('/signup').set('Sec-GPC', '0');
    expect(await sent()).toBe(3);
  });

  it('ignores DNT: 1 by default, and honours it with privacy.dnt: true', async () => {
    await request(app()).post('/signup').set('DNT', '1');
    expect(await sent()).toBe(3);
    const response = await request(app({ privacy: { dnt: true } }))
      .post('/signup')
      .set('DNT', '1');
    expect(setCookies(response)).toEqual([]);
    expect(await sent()).toBe(3); // the first app's, nothing more
    expect(middleware.tracker.stats().identity.optedOut).toBe(1);
  });

  it('asks privacy.consent with the Express request: false opts out, true tracks', async () => {
    const seen: unknown[] = [];
    const consent = (req: Request): boolean => (seen.push(req), req.headers.cookie?.includes('consent=yes') === true);
    const application = app({ privacy: { consent } });
    const refused = await request(application).post('/signup');
    expect(setCookies(refused)).toEqual([]);
    const accepted = await request(application).post('/signup').set('Cookie', 'consent=yes');
    expect(setCookies(accepted)).toHaveLength(1);
    expect(await sent()).toBe(3);
    expect(seen).toHaveLength(2);
    expect((seen[0] as Request).method).toBe('POST');
    expect(middleware.tracker.stats().identity.optedOut).toBe(1);
  });

  it('never asks consent when the browser already opted out', async () => {
    let asked = 0;
    await request(app({ privacy: { consent: () => (asked++, true) } }))
      .post('/signup')
      .set('Sec-GPC', '1');
    expect(asked).toBe(0);
  });

  it('reports a throwing consent hook and treats the request as not consented; the request still succeeds', async () => {
    const response = await request(
      app({
        privacy: {
          consent: () => {
            throw new Error('CMP down');
          },
        },
      }),
    )
      .post('/signup')
      .expect(200);
    expect(setCookies(response)).toEqual([]);
    expect(await sent()).toBe(0);
    expect(errors.map((e) => e.code)).toEqual(['IDSTITCH_CONSENT_FAILED']);
    expect(errors[0]!.message).toContain('CMP down');
  });

  it('refuses a promise or a non-boolean from consent (reported), as no consent', async () => {
    const asPromise = (() => Promise.resolve(true)) as unknown as (req: never) => boolean;
    await request(app({ privacy: { consent: asPromise } })).post('/signup');
    await request(app({ privacy: { consent: (() => 'yes') as unknown as (req: never) => boolean } })).post('/signup');
    expect(await sent()).toBe(0);
    expect(errors.map((e) => e.code)).toEqual(['IDSTITCH_CONSENT_FAILED', 'IDSTITCH_CONSENT_FAILED']);
  });
});

describe('privacy option', () => {
  it('defaults to GPC on, DNT off, no consent hook', () => {
    const tracker = createTracker({ logger: false });
    expect(coreOf(tracker).config.privacy).toEqual({ gpc: true, dnt: false, consent: undefined });
    void tracker.shutdown({ timeoutMs: 0 });
  });

  it('rejects unknown names with a suggestion, and values of the wrong type', () => {
    expect(() => createTracker({ privacy: { gcp: false } as never })).toThrow(/`privacy.gcp` is not an option; did you mean `privacy.gpc`/);
    expect(() => createTracker({ privacy: { dnt: 'yes' } as never })).toThrow(/privacy.dnt/);
    expect(() => createTracker({ privacy: { consent: true } as never })).toThrow(ConfigError);
    expect(() => createTracker({ privacy: false } as never)).toThrow(/privacy/);
    expect(() => createTracker({ privcy: {} } as never)).toThrow(/did you mean `privacy`/);
  });
});

describe.each([
  ['koa 3', Koa3],
  ['koa 2', Koa2],
] as Array<[string, typeof Koa3]>)('Koa (%s)', (_name, Koa) => {
  function app(extra: TrackerOptions = {}): { app: Koa3; tracker: Tracker } {
    const middleware = koaTracking(options(extra));
    closers.push(() => middleware.tracker.shutdown({ timeoutMs: 2000 }));
    const application = new Koa();
    application.silent = true;
    application.use(middleware);
    application.use((ctx) => {
      ctx.track('Viewed Page');
      ctx.body = 'ok';
    });
    return { app: application, tracker: middleware.tracker };
  }

  it('opts out Sec-GPC: 1 requests: no cookie, nothing sent, counted', async () => {
    const { app: application, tracker } = app();
    const response = await request(application.callback()).get('/').set('Sec-GPC', '1').expect(200);
    expect(setCookies(response)).toEqual([]);
    await tracker.flush();
    expect(stub.requests).toHaveLength(0);
    expect(tracker.stats()).toMatchObject({ dropped: { opted_out: 1 }, identity: { optedOut: 1, issued: 0 } });
  });

  it('hands privacy.consent the Koa ctx', async () => {
    const consent = (ctx: Context): boolean => ctx.query.consent === '1';
    const { app: application, tracker } = app({ privacy: { consent } });
    expect(setCookies(await request(application.callback()).get('/'))).toEqual([]);
    expect(setCookies(await request(application.callback()).get('/?consent=1'))).toHaveLength(1);
    await tracker.flush();
    expect(stub.events()).toHaveLength(1);
  });
});

describe('Next', () => {
  let tracker: Tracker;

  beforeEach(() => {
    tracker = createTracker(options());
    closers.push(() => tracker.shutdown({ timeoutMs: 2000 }));
  });

  function setup(privacy?: NextTrackingOptions['privacy']) {
    return nextTracking(privacy === undefined ? tracker : createTrackerWith(privacy));
  }

  function createTrackerWith(privacy: NonNullable<NextTrackingOptions['privacy']>): Tracker {
    tracker = createTracker(options({ privacy: privacy as TrackerOptions['privacy'] }));
    closers.push(() => tracker.shutdown({ timeoutMs: 2000 }));
    return tracker;
  }

  async function call(withTracking: ReturnType<typeof setup>['withTracking'], headers: Record<string, string> = {}): Promise<Response> {
    const handler = withTracking((_request, { tracking }) => {
      tracking.track('Bought');
      return new Response('ok');
    });
    return handler(new NextRequest('https://shop.example/api/buy', { headers }), { params: Promise.resolve({}) });
  }

  it('Route Handler: Sec-GPC: 1 gets no cookie and sends nothing', async () => {
    const response = await call(setup().withTracking, { 'sec-gpc': '1' });
    expect(response.headers.getSetCookie()).toEqual([]);
    await tracker.flush();
    expect(stub.requests).toHaveLength(0);
    expect(tracker.stats()).toMatchObject({ dropped: { opted_out: 1 }, identity: { optedOut: 1 } });
  });

  it('awaits an async consent with the same source getUserId gets', async () => {
    const sources: UserIdSource[] = [];
    const { withTracking } = setup({
      consent: async (source) => {
        sources.push(source);
        return source.type === 'route' && source.request.cookies.get('consent')?.value === 'yes';
      },
    });
    expect((await call(withTracking)).headers.getSetCookie()).toEqual([]);
    expect((await call(withTracking, { cookie: 'consent=yes' })).headers.getSetCookie()).toHaveLength(1);
    await tracker.flush();
    expect(stub.events()).toHaveLength(1);
    expect(sources.map((s) => s.type)).toEqual(['route', 'route']);
  });

  it('reports a consent hook that rejects, and lets Next’s redirect() through', async () => {
    const failing = setup({ consent: () => Promise.reject(new Error('CMP down')) });
    expect((await call(failing.withTracking)).headers.getSetCookie()).toEqual([]);
    expect(errors.map((e) => e.code)).toEqual(['IDSTITCH_CONSENT_FAILED']);
    const redirecting = setup({ consent: () => redirect('/consent') });
    await expect(call(redirecting.withTracking)).rejects.toMatchObject({ digest: expect.stringContaining('NEXT_REDIRECT') });
  });

  it('Server Component and Server Action: consent asked once with { type: "server" }; no cookies().set when refused', async () => {
    let asked = 0;
    const { getTracking, actionTracking } = setup({ consent: (source) => (asked++, source.type !== 'server') });
    const run = runInNextRequest({ phase: 'action' }, async () => {
      (await actionTracking()).track('Saved');
      (await getTracking()).track('Viewed');
    });
    await run.result;
    expect(run.cookiesSet()).toEqual([]);
    await run.close();
    expect(asked).toBe(1);
    expect(stub.requests).toHaveLength(0);
    expect(tracker.stats().dropped.opted_out).toBe(2);
  });

  it('Server Action: Sec-GPC: 1 sets no cookie', async () => {
    const { actionTracking } = setup();
    const run = runInNextRequest({ phase: 'action', headers: { 'sec-gpc': '1' } }, async () => (await actionTracking()).track('Saved'));
    await run.result;
    expect(run.cookiesSet()).toEqual([]);
    await run.close();
    expect(stub.requests).toHaveLength(0);
  });
});

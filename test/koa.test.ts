import { createRequire } from 'node:module';
import Koa3, { type Context, type Middleware } from 'koa';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { coreOf } from '../src/adapter.js';
import { identifyUser, identityOf, resetUser, tracking, type TrackingMiddleware } from '../adapters/koa.js';
import { ConfigError, createTracker, type IdstitchError, type TrackerOptions } from '../src/index.js';
import { startIngestStub, type IngestStub } from './support/ingest-stub.js';
import { deviceCookieOf, setCookies } from './support/set-cookies.js';

// `koa2` is npm:koa@^2 (no types of its own): the same suite runs against both majors.
const Koa2 = createRequire(import.meta.url)('koa2') as typeof Koa3;
type KoaClass = typeof Koa3;

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let stub: IngestStub;
let errors: IdstitchError[];
let middleware: TrackingMiddleware;

beforeEach(async () => {
  stub = await startIngestStub();
  errors = [];
});

afterEach(async () => {
  await middleware?.tracker.shutdown({ timeoutMs: 2000 });
  await stub.close();
});

/** A route without a router: runs `handler` for `METHOD /path`, else passes on (Koa answers 404). */
function on(method: string, path: string, handler: (ctx: Context, next: () => Promise<unknown>) => unknown): Middleware {
  return async (ctx, next) => {
    if (ctx.method === method && ctx.path === path) await handler(ctx, next);
    else await next();
  };
}

async function delivered(count: number): Promise<Array<{ event: string; properties: Record<string, unknown> }>> {
  await middleware.tracker.flush();
  const events = stub.events();
  expect(events).toHaveLength(count);
  return events;
}

/** Sets `ctx.state.user` the way koa-passport (an object with `id`) or koa-jwt (claims with `sub`) do. */
function withUser(user: unknown): Middleware {
  return async (ctx, next) => {
    ctx.state.user = user;
    await next();
  };
}

describe.each([
  ['koa 3', Koa3],
  ['koa 2', Koa2],
] as Array<[string, KoaClass]>)('Koa middleware (%s)', (_name, Koa) => {
  /** A Koa app with idstitch mounted first; `routes` adds the app's own middleware. */
  function appWith(routes: (app: Koa3) => void, options: TrackerOptions = {}): Koa3 {
    middleware = tracking({ apiHost: stub.url, token: 'test-token', onError: (error) => errors.push(error), ...options });
    const app = new Koa();
    app.silent = true;
    app.use(middleware);
    routes(app);
    return app;
  }

  describe('the device id', () => {
    it('issues a UUID cookie on the first visit and the event carries it with an empty distinct_id', async () => {
      const app = appWith((a) =>
        a.use(
          on('GET', '/pricing', (ctx) => {
            ctx.track('Viewed Pricing', { plan: 'pro' });
            ctx.body = 'ok';
          }),
        ),
      );
      const response = await request(app.callback()).get('/pricing').expect(200);
      const deviceId = deviceCookieOf(response);
      expect(deviceId).toMatch(UUID_V4);
      const line = setCookies(response)[0]!;
      expect(line).toContain('HttpOnly');
      expect(line).toContain('SameSite=Lax');
      expect(line).toContain('Path=/');
      expect(line).toContain('Max-Age=34560000');
      expect(line).not.toContain('Secure');
      expect(response.headers['cache-control']).toBe('private');

      const [event] = await delivered(1);
      expect(event!.event).toBe('Viewed Pricing');
      expect(event!.properties).toMatchObject({ distinct_id: '', $device_id: deviceId, plan: 'pro' });
      expect(event!.properties).not.toHaveProperty('$user_id');
      expect(middleware.tracker.stats().identity.issued).toBe(1);
    });

    it('keeps the cookie on later visits: no new Set-Cookie, the same $device_id', async () => {
      const app = appWith((a) =>
        a.use(
          on('GET', '/', (ctx) => {
            ctx.track('Viewed Home');
            ctx.body = 'ok';
          }),
        ),
      );
      const agent = request.agent(app.callback());
      const first = await agent.get('/');
      const deviceId = deviceCookieOf(first);
      const second = await agent.get('/');
      expect(second.headers['set-cookie']).toBeUndefined();
      expect(second.headers['cache-control']).toBeUndefined();
      const events = await delivered(2);
      expect(events.map((e) => e.properties.$device_id)).toEqual([deviceId, deviceId]);
    });

    it('replaces a malformed cookie and never sends or echoes the bad value', async () => {
      const app = appWith((a) =>
        a.use(
          on('GET', '/', (ctx) => {
            ctx.track('Viewed Home');
            ctx.body = 'ok';
          }),
        ),
      );
      const bad = 'not-a-uuid%0d%0aX-Evil:1';
      const response = await request(app.callback()).get('/').set('Cookie', `idstitch_device=${bad}`);
      const issued = deviceCookieOf(response);
      expect(issued).toMatch(UUID_V4);
      expect(JSON.stringify(response.headers)).not.toContain('not-a-uuid');
      const [event] = await delivered(1);
      expect(event!.properties.$device_id).toBe(issued);
      expect(middleware.tracker.stats().identity).toMatchObject({ issued: 1, invalidCookies: 1 });
    });

    it('takes the first valid of duplicated device cookies (a Path=/app twin comes first) and writes none', async () => {
      const app = appWith((a) =>
        a.use(
          on('GET', '/', (ctx) => {
            ctx.track('Viewed Home');
            ctx.body = 'ok';
          }),
        ),
      );
      const first = '6f1c2a4e-9b7d-4c3e-8a2f-1d0e9c8b7a65';
      const second = '0b8f8c1e-2d3a-4f5b-9c6d-7e8f9a0b1c2d';
      const response = await request(app.callback())
        .get('/')
        .set('Cookie', `idstitch_device=stale; idstitch_device=${first}; idstitch_device=${second}`);
      expect(deviceCookieOf(response)).toBeUndefined();
      const [event] = await delivered(1);
      expect(event!.properties.$device_id).toBe(first);
      expect(middleware.tracker.stats().identity).toMatchObject({ issued: 0, invalidCookies: 0 });
    });

    it("keeps the app's other Set-Cookie headers: ctx.cookies.set (signed) and ctx.append", async () => {
      const app = appWith((a) => {
        a.keys = ['example key'];
        a.use(
          on('GET', '/', (ctx) => {
            ctx.cookies.set('session', 'abc', { signed: true });
            ctx.append('Set-Cookie', 'theme=dark; Path=/');
            ctx.body = 'ok';
          }),
        );
      });
      const response = await request(app.callback()).get('/');
      const lines = setCookies(response);
      expect(lines.some((l) => l.startsWith('session=abc'))).toBe(true);
      expect(lines.some((l) => l.startsWith('session.sig='))).toBe(true);
      expect(lines.some((l) => l.startsWith('theme=dark'))).toBe(true);
      expect(deviceCookieOf(response)).toMatch(UUID_V4);
      expect(lines).toHaveLength(4);
    });

    it('makes a public response private when it issues an id, keeping the other directives', async () => {
      const app = appWith((a) =>
        a.use(
          on('GET', '/', (ctx) => {
            ctx.set('Cache-Control', 'public, max-age=600, s-maxage=3600');
            ctx.body = 'ok';
          }),
        ),
      );
      const response = await request(app.callback()).get('/');
      expect(response.headers['cache-control']).toBe('private, max-age=600');
    });

    it('marks the cookie Secure when app.proxy trusts the X-Forwarded-Proto that says HTTPS, and not otherwise', async () => {
      const app = appWith((a) => a.use(on('GET', '/', (ctx) => void (ctx.body = 'ok'))));
      const spoofed = await request(app.callback()).get('/').set('X-Forwarded-Proto', 'https');
      expect(setCookies(spoofed)[0]).toMatch(/^idstitch_device=/);
      expect(setCookies(spoofed)[0]).not.toContain('Secure');
      app.proxy = true;
      const trusted = await request(app.callback()).get('/').set('X-Forwarded-Proto', 'https');
      expect(setCookies(trusted)[0]).toContain('; Secure');
      const plain = await request(app.callback()).get('/').set('X-Forwarded-Proto', 'http');
      expect(setCookies(plain)[0]).not.toContain('Secure');
    });

    it('uses the configured cookie name and a session cookie with maxAge: null', async () => {
      const app = appWith((a) => a.use(on('GET', '/', (ctx) => void (ctx.body = 'ok'))), { cookie: { name: 'did', maxAge: null } });
      const response = await request(app.callback()).get('/');
      const line = setCookies(response)[0]!;
      expect(line).toMatch(/^did=[0-9a-f-]{36}; Path=\/; HttpOnly; SameSite=Lax$/);
    });

    it("writes the device cookie on Koa's own error page too: the event tracked before the throw carries that id", async () => {
      const boom = new Error('database down');
      const app = appWith((a) => {
        a.use(
          on('GET', '/boom', (ctx) => {
            ctx.track('Tried');
            ctx.append('Set-Cookie', 'theme=dark; Path=/');
            throw boom;
          }),
        );
      });
      const seen: unknown[] = [];
      app.on('error', (error: unknown) => seen.push(error));
      const failed = await request(app.callback()).get('/boom').expect(500);
      // Koa's onerror cleared every header the app set (its theme cookie); idstitch's goes out at header time.
      expect(setCookies(failed).map((line) => line.split('=')[0])).toEqual(['idstitch_device']);
      expect(failed.headers['cache-control']).toBe('private');
      expect(seen).toEqual([boom]); // propagated untouched to Koa's error handler
      expect(middleware.tracker.stats().identity.issued).toBe(1);
      const [tried] = await delivered(1);
      expect(tried!.properties.$device_id).toBe(deviceCookieOf(failed));
    });

    it('writes the cookie when the headers leave before next() resolves (ctx.respond = false)', async () => {
      const app = appWith((a) =>
        a.use(
          on('GET', '/raw', (ctx) => {
            ctx.respond = false;
            ctx.res.writeHead(200, { 'content-type': 'text/plain' });
            ctx.res.end('raw');
          }),
        ),
      );
      const response = await request(app.callback()).get('/raw').expect(200);
      expect(response.text).toBe('raw');
      expect(deviceCookieOf(response)).toMatch(UUID_V4);
      expect(response.headers['cache-control']).toBe('private');
      expect(middleware.tracker.stats().identity.issued).toBe(1);
    });

    it('writes the cookie before ctx.flushHeaders() sends the headers of a streamed response', async () => {
      const app = appWith((a) =>
        a.use(
          on('GET', '/events', (ctx) => {
            ctx.status = 200;
            ctx.type = 'text/plain';
            ctx.flushHeaders();
            ctx.body = 'streamed';
          }),
        ),
      );
      const response = await request(app.callback()).get('/events').expect(200);
      expect(deviceCookieOf(response)).toMatch(UUID_V4);
      expect(middleware.tracker.stats().identity.issued).toBe(1);
    });
  });

  describe('users', () => {
    it('adds $user_id from ctx.state.user.id (koa-passport) on authenticated requests, as a string', async () => {
      const app = appWith((a) => {
        a.use(withUser({ id: 42 }));
        a.use(
          on('GET', '/', (ctx) => {
            ctx.track('Viewed Dashboard');
            ctx.body = 'ok';
          }),
        );
      });
      await request(app.callback()).get('/');
      const [event] = await delivered(1);
      expect(event!.properties.$user_id).toBe('42');
      expect(event!.properties.distinct_id).toBe('');
    });

    it('falls back to ctx.state.user.sub (koa-jwt)', async () => {
      const app = appWith((a) =>
        a.use(
          on('GET', '/', (ctx) => {
            ctx.state.user = { sub: 'auth0|abc', iat: 1 };
            ctx.track('Called API');
            ctx.body = 'ok';
          }),
        ),
      );
      await request(app.callback()).get('/');
      const [event] = await delivered(1);
      expect(event!.properties.$user_id).toBe('auth0|abc');
    });

    it('takes a string ctx.state.user as the id itself, and prefers id over sub', async () => {
      const app = appWith((a) =>
        a.use(
          on('GET', '/', (ctx) => {
            ctx.state.user = 'u-string';
            ctx.track('A');
            ctx.state.user = { id: 'u-id', sub: 'u-sub' };
            ctx.track('B');
            ctx.body = 'ok';
          }),
        ),
      );
      await request(app.callback()).get('/');
      const events = await delivered(2);
      expect(events.map((e) => e.properties.$user_id)).toEqual(['u-string', 'u-id']);
    });

    it('hands the Koa ctx to a getUserId option', async () => {
      const app = appWith(
        (a) =>
          a.use(
            on('GET', '/', (ctx) => {
              ctx.state.session = { accountId: 'acct-9' };
              ctx.track('A');
              ctx.body = 'ok';
            }),
          ),
        { getUserId: (ctx: Context) => (ctx.state.session as { accountId: string }).accountId },
      );
      await request(app.callback()).get('/').expect(200);
      const [event] = await delivered(1);
      expect(event!.properties.$user_id).toBe('acct-9');
    });

    it('links on login: one event with both ids, and later events of the request carry the user', async () => {
      const app = appWith((a) =>
        a.use(
          on('POST', '/login', (ctx) => {
            ctx.state.user = { id: 'u1' }; // what koa-passport's ctx.login does
            identifyUser(ctx);
            ctx.track('Logged In');
            ctx.body = 'ok';
          }),
        ),
      );
      const landing = await request(app.callback()).post('/login');
      const deviceId = deviceCookieOf(landing);
      const events = await delivered(2);
      expect(events[0]).toMatchObject({ event: 'User Identified', properties: { $device_id: deviceId, $user_id: 'u1', distinct_id: '' } });
      expect(events[1]).toMatchObject({ event: 'Logged In', properties: { $device_id: deviceId, $user_id: 'u1' } });
    });

    it('links with an explicit id when the auth layer has not set ctx.state.user yet', async () => {
      const app = appWith((a) =>
        a.use(
          on('POST', '/signup', (ctx) => {
            expect(identifyUser(ctx, 7)).toBe('7');
            ctx.track('Signed Up');
            ctx.body = 'ok';
          }),
        ),
      );
      await request(app.callback()).post('/signup').expect(200);
      const events = await delivered(2);
      expect(events.map((e) => e.properties.$user_id)).toEqual(['7', '7']);
    });

    it('rotates the device id on logout and drops the user for the rest of the request', async () => {
      const app = appWith((a) => {
        a.use(
          on('GET', '/', (ctx) => {
            ctx.track('Viewed Home');
            ctx.body = 'ok';
          }),
        );
        a.use(withUser({ id: 'u1' }));
        a.use(
          on('POST', '/logout', (ctx) => {
            ctx.track('Logged Out');
            resetUser(ctx);
            ctx.track('Viewed Home');
            ctx.body = 'ok';
          }),
        );
      });
      const agent = request.agent(app.callback());
      const before = deviceCookieOf(await agent.get('/'));
      const logout = await agent.post('/logout');
      const after = deviceCookieOf(logout);
      expect(after).toMatch(UUID_V4);
      expect(after).not.toBe(before);
      expect(logout.headers['cache-control']).toBe('private');
      await agent.get('/');
      const events = await delivered(4);
      expect(events[1]!.properties).toMatchObject({ $device_id: before, $user_id: 'u1' });
      expect(events[2]!.properties.$device_id).toBe(after);
      expect(events[2]!.properties).not.toHaveProperty('$user_id');
      expect(events[3]!.properties.$device_id).toBe(after);
      expect(middleware.tracker.stats().identity.rotated).toBe(1);
    });

    it('sends a single cookie when a first visit is also a logout', async () => {
      const app = appWith((a) =>
        a.use(
          on('POST', '/logout', (ctx) => {
            resetUser(ctx);
            ctx.body = 'ok';
          }),
        ),
      );
      const response = await request(app.callback()).post('/logout');
      expect(deviceCookieOf(response)).toMatch(UUID_V4);
      expect(setCookies(response)).toHaveLength(1);
    });

    it('writes the rotated cookie when an outer middleware logs out after next() resolved', async () => {
      middleware = tracking({ apiHost: stub.url, onError: (error) => errors.push(error) });
      const app = new Koa();
      app.use(async (ctx, next) => {
        await next();
        if (ctx.path === '/logout') resetUser(ctx);
      });
      app.use(middleware);
      app.use((ctx) => void (ctx.body = 'ok'));
      const agent = request.agent(app.callback());
      const before = deviceCookieOf(await agent.get('/'));
      const after = deviceCookieOf(await agent.post('/logout'));
      expect(after).toMatch(UUID_V4);
      expect(after).not.toBe(before);
    });

    it('writes one rotated cookie when an outer middleware logs out a first visit after ours wrote its cookie', async () => {
      middleware = tracking({ apiHost: stub.url, onError: (error) => errors.push(error) });
      const app = new Koa();
      let finalId: string | undefined;
      app.use(async (ctx, next) => {
        await next();
        resetUser(ctx);
        finalId = identityOf(ctx)?.deviceId;
      });
      app.use(middleware);
      app.use((ctx) => void (ctx.body = 'ok'));
      const response = await request(app.callback()).get('/').expect(200);
      expect(deviceCookieOf(response)).toBe(finalId);
      expect(middleware.tracker.stats().identity).toMatchObject({ issued: 1, rotated: 1 });
    });

    it('treats a deny-listed user id as anonymous and reports it once per request', async () => {
      const app = appWith((a) => {
        a.use(withUser({ id: 'undefined' }));
        a.use(
          on('GET', '/', (ctx) => {
            ctx.track('A');
            ctx.track('B');
            ctx.body = 'ok';
          }),
        );
      });
      await request(app.callback()).get('/').expect(200);
      const events = await delivered(2);
      expect(events.every((e) => !('$user_id' in e.properties))).toBe(true);
      expect(errors.map((e) => e.code)).toEqual(['IDSTITCH_INVALID_USER_ID']);
    });

    it('treats a throwing getUserId as anonymous, reports it, and the request still succeeds', async () => {
      const app = appWith(
        (a) =>
          a.use(
            on('GET', '/', (ctx) => {
              ctx.track('A');
              ctx.body = 'ok';
            }),
          ),
        {
          getUserId: () => {
            throw new Error('session store down');
          },
        },
      );
      await request(app.callback()).get('/').expect(200);
      const [event] = await delivered(1);
      expect(event!.properties).not.toHaveProperty('$user_id');
      expect(errors[0]?.code).toBe('IDSTITCH_GET_USER_ID_FAILED');
    });
  });

  describe('never breaks the host', () => {
    it('reports bad properties with a code, answers 200, and still delivers the good events', async () => {
      const app = appWith((a) =>
        a.use(
          on('GET', '/', (ctx) => {
            const circular: Record<string, unknown> = {};
            circular.self = circular;
            ctx.track('Bad BigInt', { amount: 10n });
            ctx.track('Bad Circular', { circular });
            ctx.track('', {});
            ctx.track('Good', { ok: true });
            ctx.body = 'ok';
          }),
        ),
      );
      await request(app.callback()).get('/').expect(200);
      const events = await delivered(1);
      expect(events[0]!.event).toBe('Good');
      expect(errors.map((e) => e.code)).toEqual([
        'IDSTITCH_INVALID_PROPERTIES',
        'IDSTITCH_INVALID_PROPERTIES',
        'IDSTITCH_INVALID_EVENT_NAME',
      ]);
      expect(middleware.tracker.stats().dropped.invalid_event).toBe(3);
    });

    it('refuses $identify with an explanation of the Simplified way', async () => {
      const app = appWith((a) =>
        a.use(
          on('GET', '/', (ctx) => {
            ctx.track('$identify', {});
            ctx.body = 'ok';
          }),
        ),
      );
      await request(app.callback()).get('/').expect(200);
      expect(errors[0]?.code).toBe('IDSTITCH_IDENTITY_EVENT');
      expect(errors[0]?.message).toContain('identifyUser');
    });

    it('reports a logout after the headers went out instead of throwing', async () => {
      const app = appWith((a) =>
        a.use(
          on('GET', '/stream', (ctx) => {
            ctx.respond = false;
            ctx.res.statusCode = 200;
            ctx.res.write('partial');
            resetUser(ctx);
            ctx.res.end();
          }),
        ),
      );
      await request(app.callback()).get('/stream').expect(200);
      expect(errors.map((e) => e.code)).toContain('IDSTITCH_HEADERS_SENT');
      expect(middleware.tracker.stats().identity.cookieAfterHeadersSent).toBe(1);
    });

    it('answers the request with a no-op ctx.track when attaching fails, and reports it', async () => {
      const tracker = createTracker({ apiHost: stub.url, onError: (error) => errors.push(error) });
      coreOf(tracker).scope = () => {
        throw new Error('scope exploded');
      };
      middleware = tracking(tracker);
      const app = new Koa();
      app.use(middleware);
      app.use(
        on('GET', '/', (ctx) => {
          ctx.track('Ignored');
          ctx.body = 'still fine';
        }),
      );
      const response = await request(app.callback()).get('/').expect(200);
      expect(response.text).toBe('still fine');
      expect(setCookies(response)).toEqual([]);
      expect(errors.map((e) => e.code)).toEqual(['IDSTITCH_INTERNAL']);
      await delivered(0);
    });

    it('does not double-track or double-set the cookie when mounted twice', async () => {
      const app = appWith((a) => {
        a.use(middleware);
        a.use(
          on('GET', '/', (ctx) => {
            ctx.track('Once');
            ctx.body = 'ok';
          }),
        );
      });
      const response = await request(app.callback()).get('/');
      expect(deviceCookieOf(response)).toMatch(UUID_V4);
      expect(setCookies(response)).toHaveLength(1);
      await delivered(1);
    });

    it('explains app.use(tracking) written without the call', async () => {
      const app = new Koa();
      const seen: unknown[] = [];
      app.on('error', (error: unknown) => seen.push(error));
      app.use(tracking as unknown as Middleware);
      await request(app.callback()).get('/').expect(500);
      expect(seen).toHaveLength(1);
      expect(seen[0]).toBeInstanceOf(ConfigError);
      expect((seen[0] as ConfigError).code).toBe('IDSTITCH_INVALID_OPTION');
      expect((seen[0] as Error).message).toMatch(/app\.use\(tracking\(\)\)/);
    });
  });

  describe('setup', () => {
    it('shares a Tracker passed in instead of options', async () => {
      const tracker = createTracker({ apiHost: stub.url, logger: false });
      middleware = tracking(tracker);
      expect(middleware.tracker).toBe(tracker);
      const app = new Koa().use(middleware).use((ctx) => {
        ctx.track('Shared');
        ctx.body = 'ok';
      });
      await request(app.callback()).get('/');
      await delivered(1);
    });

    it('exposes the request identity to the app', async () => {
      const app = appWith((a) => {
        a.use(withUser({ id: 'u9' }));
        a.use((ctx) => void (ctx.body = identityOf(ctx)));
      });
      const response = await request(app.callback()).get('/');
      expect(response.body).toEqual({ deviceId: deviceCookieOf(response), userId: 'u9' });
    });

    it('names its middleware, for Koa debug output and stack traces', () => {
      middleware = tracking({ apiHost: stub.url, logger: false });
      expect(middleware.name).toBe('idstitchTracking');
    });
  });
});

describe('Koa middleware: setup errors', () => {
  it('fails fast on a typo in an option, naming it', () => {
    expect(() => tracking({ tokn: 'x' } as TrackerOptions)).toThrow(/`tokn` is not an option; did you mean `token`/);
  });

  it('throws a ConfigError when a Koa ctx is passed as the options', () => {
    const app = new Koa3();
    const ctx = app.createContext({ headers: {}, socket: {} } as never, {} as never);
    const misuse = tracking as unknown as (ctx: unknown, next: unknown) => unknown;
    expect(() => misuse(ctx, () => Promise.resolve())).toThrow(ConfigError);
  });

  it('warns instead of throwing when identifyUser runs on a request the middleware never saw', async () => {
    // Captured, not printed: the warning is the behaviour under test.
    const emitted = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      middleware = tracking({ apiHost: stub.url, logger: false });
      const app = new Koa3();
      app.use(
        on('POST', '/login', (ctx) => {
          expect(identifyUser(ctx, 'u1')).toBeUndefined();
          expect(identityOf(ctx)).toBeUndefined();
          ctx.body = 'ok';
        }),
      );
      await request(app.callback()).post('/login').expect(200);
      expect(emitted).toHaveBeenCalledWith(
        expect.stringMatching(/^identifyUser\(ctx\) ran on a request the idstitch tracking\(\) middleware did not see/),
        { code: 'IDSTITCH_NOT_MOUNTED' },
      );
    } finally {
      emitted.mockRestore();
    }
  });
});

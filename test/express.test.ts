import http from 'node:http';
import express, { type Express, type Request } from 'express';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { identifyUser, identityOf, resetUser, tracking, type TrackingMiddleware } from '../adapters/express.js';
import { createTracker, type IdstitchError, type TrackerOptions } from '../src/index.js';
import { startIngestStub, type IngestStub } from './support/ingest-stub.js';
import { deviceCookieOf, setCookies } from './support/set-cookies.js';

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

/** An Express app with idstitch mounted; `routes` adds the app's own handlers. */
function appWith(routes: (app: Express) => void, options: TrackerOptions = {}): Express {
  middleware = tracking({ apiHost: stub.url, token: 'test-token', onError: (error) => errors.push(error), ...options });
  const app = express();
  app.use(middleware);
  routes(app);
  return app;
}

async function delivered(count: number): Promise<Array<{ event: string; properties: Record<string, unknown> }>> {
  await middleware.tracker.flush();
  const events = stub.events();
  expect(events).toHaveLength(count);
  return events;
}

describe('Express middleware: the device id', () => {
  it('issues a UUID cookie on the first visit and the event carries it with an empty distinct_id', async () => {
    const app = appWith((a) =>
      a.get('/pricing', (req, res) => {
        req.track('Viewed Pricing', { plan: 'pro' });
        res.send('ok');
      }),
    );
    const response = await request(app).get('/pricing').expect(200);
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
  });

  it('keeps the cookie on later visits: no new Set-Cookie, the same $device_id', async () => {
    const app = appWith((a) =>
      a.get('/', (req, res) => {
        req.track('Viewed Home');
        res.send('ok');
      }),
    );
    const agent = request.agent(app);
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
      a.get('/', (req, res) => {
        req.track('Viewed Home');
        res.send('ok');
      }),
    );
    const bad = 'not-a-uuid%0d%0aX-Evil:1';
    const response = await request(app).get('/').set('Cookie', `idstitch_device=${bad}`);
    const issued = deviceCookieOf(response);
    expect(issued).toMatch(UUID_V4);
    expect(JSON.stringify(response.headers)).not.toContain('not-a-uuid');
    const [event] = await delivered(1);
    expect(event!.properties.$device_id).toBe(issued);
    expect(middleware.tracker.stats().identity).toMatchObject({ issued: 1, invalidCookies: 1 });
  });

  it("keeps the app's other Set-Cookie headers", async () => {
    const app = appWith((a) =>
      a.get('/', (_req, res) => {
        res.cookie('session', 'abc');
        res.append('Set-Cookie', 'theme=dark; Path=/');
        res.send('ok');
      }),
    );
    const response = await request(app).get('/');
    const lines = setCookies(response);
    expect(lines.some((l) => l.startsWith('session=abc'))).toBe(true);
    expect(lines.some((l) => l.startsWith('theme=dark'))).toBe(true);
    expect(deviceCookieOf(response)).toMatch(UUID_V4);
  });

  it('shares writeHead with middleware that wraps it too (the on-headers pattern), before and after it', async () => {
    // What on-headers (express-session, morgan, compression) does: replace res.writeHead with a
    // wrapper that runs a listener, then calls the one it replaced.
    const wrapWriteHead = (name: string) => (_req: unknown, res: http.ServerResponse, next: () => void) => {
      const previous = res.writeHead;
      res.writeHead = function (this: http.ServerResponse, ...args: unknown[]) {
        this.appendHeader('x-hooks', name);
        return (previous as (...a: unknown[]) => http.ServerResponse).apply(this, args);
      } as http.ServerResponse['writeHead'];
      next();
    };
    middleware = tracking({ apiHost: stub.url, token: 'test-token', onError: (error) => errors.push(error) });
    const app = express();
    app.use(wrapWriteHead('before'));
    app.use(middleware);
    app.use(wrapWriteHead('after'));
    let rotated: string | undefined;
    app.get('/', (req, res) => {
      resetUser(req); // a rotation on top of the first-visit cookie: one line, the new id
      rotated = identityOf(req)?.deviceId;
      res.send('ok');
    });
    const response = await request(app).get('/');
    expect(response.headers['x-hooks']).toBe('after, before');
    expect(rotated).toMatch(UUID_V4);
    expect(deviceCookieOf(response)).toBe(rotated);
    expect(response.headers['cache-control']).toBe('private');
    expect(errors).toEqual([]);
  });

  it('makes a public response private when it issues an id, keeping the other directives', async () => {
    const app = appWith((a) =>
      a.get('/', (_req, res) => {
        res.set('Cache-Control', 'public, max-age=600, s-maxage=3600');
        res.send('ok');
      }),
    );
    const response = await request(app).get('/');
    expect(response.headers['cache-control']).toBe('private, max-age=600');
  });

  it('marks the cookie Secure when Express trusts the proxy that says HTTPS, and not otherwise', async () => {
    const app = appWith((a) => a.get('/', (_req, res) => res.send('ok')));
    const spoofed = await request(app).get('/').set('X-Forwarded-Proto', 'https');
    expect(setCookies(spoofed)[0]).not.toContain('Secure');
    app.set('trust proxy', 'loopback');
    const trusted = await request(app).get('/').set('X-Forwarded-Proto', 'https');
    expect(setCookies(trusted)[0]).toContain('; Secure');
  });

  it('uses the configured cookie name and a session cookie with maxAge: null', async () => {
    const app = appWith((a) => a.get('/', (_req, res) => res.send('ok')), { cookie: { name: 'did', maxAge: null } });
    const response = await request(app).get('/');
    const line = setCookies(response)[0]!;
    expect(line).toMatch(/^did=[0-9a-f-]{36}; Path=\/; HttpOnly; SameSite=Lax$/);
  });
});

describe('Express middleware: users', () => {
  function withUser(user: unknown) {
    return (req: Request, _res: unknown, next: () => void) => {
      (req as Request & { user?: unknown }).user = user;
      next();
    };
  }

  it('adds $user_id from req.user.id (Passport) on authenticated requests, as a string', async () => {
    const app = appWith((a) =>
      a.get('/', withUser({ id: 42 }), (req, res) => {
        req.track('Viewed Dashboard');
        res.send('ok');
      }),
    );
    await request(app).get('/');
    const [event] = await delivered(1);
    expect(event!.properties.$user_id).toBe('42');
    expect(event!.properties.distinct_id).toBe('');
  });

  it('falls back to req.auth.sub (express-jwt)', async () => {
    const app = appWith((a) =>
      a.get('/', (req, res) => {
        (req as Request & { auth?: unknown }).auth = { sub: 'auth0|abc' };
        req.track('Called API');
        res.send('ok');
      }),
    );
    await request(app).get('/');
    const [event] = await delivered(1);
    expect(event!.properties.$user_id).toBe('auth0|abc');
  });

  it('finds a req.user the app defines on its request prototype (a getter), not only an own one', async () => {
    const app = appWith((a) => {
      Object.defineProperty(a.request, 'user', { get: () => ({ id: 'from-a-getter' }), configurable: true });
      a.get('/', (req, res) => {
        req.track('Viewed Dashboard');
        res.send('ok');
      });
    });
    await request(app).get('/');
    const [event] = await delivered(1);
    expect(event!.properties.$user_id).toBe('from-a-getter');
  });

  it('links on login: one event with both ids, and later events of the request carry the user', async () => {
    const app = appWith((a) =>
      a.post('/login', (req, res) => {
        (req as Request & { user?: unknown }).user = { id: 'u1' }; // what passport's req.login does
        identifyUser(req);
        req.track('Logged In');
        res.send('ok');
      }),
    );
    const agent = request.agent(app);
    const landing = await agent.post('/login');
    const deviceId = deviceCookieOf(landing);
    const events = await delivered(2);
    expect(events[0]).toMatchObject({ event: 'User Identified', properties: { $device_id: deviceId, $user_id: 'u1', distinct_id: '' } });
    expect(events[1]).toMatchObject({ event: 'Logged In', properties: { $device_id: deviceId, $user_id: 'u1' } });
  });

  it('links with an explicit id when the auth layer has not set req.user yet', async () => {
    const app = appWith((a) =>
      a.post('/signup', (req, res) => {
        identifyUser(req, 7);
        req.track('Signed Up');
        res.send('ok');
      }),
    );
    await request(app).post('/signup');
    const events = await delivered(2);
    expect(events.map((e) => e.properties.$user_id)).toEqual(['7', '7']);
  });

  it('rotates the device id on logout and drops the user for the rest of the request', async () => {
    const app = appWith((a) => {
      a.get('/', (req, res) => {
        req.track('Viewed Home');
        res.send('ok');
      });
      a.post('/logout', withUser({ id: 'u1' }), (req, res) => {
        req.track('Logged Out');
        resetUser(req);
        req.track('Viewed Home');
        res.send('ok');
      });
    });
    const agent = request.agent(app);
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
      a.post('/logout', (req, res) => {
        resetUser(req);
        res.send('ok');
      }),
    );
    const response = await request(app).post('/logout');
    expect(deviceCookieOf(response)).toMatch(UUID_V4);
  });

  it('treats a deny-listed user id as anonymous and reports it once per request', async () => {
    const app = appWith((a) =>
      a.get('/', withUser({ id: 'undefined' }), (req, res) => {
        req.track('A');
        req.track('B');
        res.send('ok');
      }),
    );
    await request(app).get('/').expect(200);
    const events = await delivered(2);
    expect(events.every((e) => !('$user_id' in e.properties))).toBe(true);
    expect(errors.map((e) => e.code)).toEqual(['IDSTITCH_INVALID_USER_ID']);
  });

  it('treats a throwing getUserId as anonymous, reports it, and the request still succeeds', async () => {
    const app = appWith(
      (a) =>
        a.get('/', (req, res) => {
          req.track('A');
          res.send('ok');
        }),
      {
        getUserId: () => {
          throw new Error('session store down');
        },
      },
    );
    await request(app).get('/').expect(200);
    const [event] = await delivered(1);
    expect(event!.properties).not.toHaveProperty('$user_id');
    expect(errors[0]?.code).toBe('IDSTITCH_GET_USER_ID_FAILED');
  });
});

describe('Express middleware: never breaks the host', () => {
  it('reports bad properties with a code, answers 200, and still delivers the good events', async () => {
    const app = appWith((a) =>
      a.get('/', (req, res) => {
        const circular: Record<string, unknown> = {};
        circular.self = circular;
        req.track('Bad BigInt', { amount: 10n });
        req.track('Bad Circular', { circular });
        req.track('', {});
        req.track('Good', { ok: true });
        res.send('ok');
      }),
    );
    await request(app).get('/').expect(200);
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
      a.get('/', (req, res) => {
        req.track('$identify', {});
        res.send('ok');
      }),
    );
    await request(app).get('/').expect(200);
    expect(errors[0]?.code).toBe('IDSTITCH_IDENTITY_EVENT');
    expect(errors[0]?.message).toContain('identifyUser');
  });

  it('reports a logout after the headers went out instead of throwing', async () => {
    const app = appWith((a) =>
      a.get('/stream', (req, res) => {
        res.write('partial');
        resetUser(req);
        res.end();
      }),
    );
    await request(app).get('/stream').expect(200);
    expect(errors.map((e) => e.code)).toContain('IDSTITCH_HEADERS_SENT');
    expect(middleware.tracker.stats().identity.cookieAfterHeadersSent).toBe(1);
  });

  it('does not double-track or double-set the cookie when mounted twice', async () => {
    const app = appWith((a) => {
      a.use(middleware);
      a.get('/', (req, res) => {
        req.track('Once');
        res.send('ok');
      });
    });
    const response = await request(app).get('/');
    expect(deviceCookieOf(response)).toMatch(UUID_V4);
    await delivered(1);
  });

  it('explains app.use(tracking) written without the call', () => {
    const app = express();
    const misuse = tracking as unknown as (req: unknown) => unknown;
    expect(() => misuse(new http.IncomingMessage(null as never))).toThrow(/app\.use\(tracking\(\)\)/);
    expect(app).toBeDefined();
  });

  it('warns instead of throwing when identifyUser runs on a request the middleware never saw', async () => {
    // Captured, not printed: the warning is the behaviour under test.
    const emitted = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      middleware = tracking({ apiHost: stub.url, logger: false });
      const app = express();
      app.post('/login', (req, res) => {
        identifyUser(req, 'u1');
        res.send('ok');
      });
      await request(app).post('/login').expect(200);
      expect(emitted).toHaveBeenCalledWith(
        expect.stringMatching(/^identifyUser\(req\) ran on a request the idstitch tracking\(\) middleware did not see/),
        { code: 'IDSTITCH_NOT_MOUNTED' },
      );
    } finally {
      emitted.mockRestore();
    }
  });
});

describe("Express middleware: where the request's scope lives", () => {
  it("keeps the request itself untouched: req.track is an accessor on the mounting app's own request prototype, the scope in res.locals", async () => {
    const app = appWith((a) =>
      a.get('/', (req, res) => {
        req.track('Viewed Home');
        res.json({
          own: Object.keys(req).filter((key) => ['track', 'people', 'register'].includes(key)),
          onAppRequest: ['track', 'people', 'register'].filter((name) => Object.hasOwn(a.request, name)),
          identity: identityOf(req),
        });
      }),
    );
    const response = await request(app).get('/');
    expect(response.body.own).toEqual([]);
    expect(response.body.onAppRequest).toEqual(['track', 'people', 'register']);
    expect(response.body.identity.deviceId).toBe(deviceCookieOf(response));
    await delivered(1);
  });

  it('reaches an app mounted under the one that mounted it (Express sub-apps inherit its request prototype)', async () => {
    const admin = express();
    admin.get('/panel', (req, res) => {
      req.track('Viewed Admin');
      res.send('ok');
    });
    const app = appWith((a) => a.use('/admin', admin));
    await request(app).get('/admin/panel').expect(200);
    const [event] = await delivered(1);
    expect(event!.event).toBe('Viewed Admin');
  });

  it('adds nothing to Express or Node: another app in the same process never sees req.track', async () => {
    const tracked = appWith((a) => a.get('/', (req, res) => res.json({ track: typeof req.track })));
    const other = express();
    other.get('/', (req, res) =>
      res.json({ track: typeof req.track, people: typeof req.people, register: typeof req.register, inTrack: 'track' in req }),
    );
    await request(tracked).get('/').expect(200, { track: 'function' });
    await request(other).get('/').expect(200, { track: 'undefined', people: 'undefined', register: 'undefined', inTrack: false });
    for (const proto of [
      express.request,
      Object.getPrototypeOf(express.request) as object,
      http.IncomingMessage.prototype,
      Object.prototype,
    ]) {
      expect(['track', 'people', 'register'].filter((name) => Object.prototype.hasOwnProperty.call(proto, name))).toEqual([]);
    }
  });

  it("lets a route assign its own req.track (a test's stub) without losing identifyUser", async () => {
    const app = appWith((a) =>
      a.post('/login', (req, res) => {
        const stubbed: string[] = [];
        req.track = (event) => void stubbed.push(event);
        req.track('Stubbed');
        identifyUser(req, 'u1');
        res.json(stubbed);
      }),
    );
    const response = await request(app).post('/login').expect(200);
    expect(response.body).toEqual(['Stubbed']);
    const [linked] = await delivered(1);
    expect(linked!.properties).toMatchObject({ $device_id: deviceCookieOf(response), $user_id: 'u1' });
  });

  it("wins over a track the app's own request prototype defines", async () => {
    middleware = tracking({ apiHost: stub.url, token: 'test-token', onError: (error) => errors.push(error) });
    const app = express();
    Object.defineProperty(app.request, 'track', {
      value: () => errors.push(new Error('the foreign track ran') as IdstitchError),
      writable: true,
      configurable: true,
    });
    app.use(middleware);
    app.get('/', (req, res) => {
      req.track('Viewed Home');
      res.send('ok');
    });
    await request(app).get('/').expect(200);
    await delivered(1);
    expect(errors).toEqual([]);
  });

  it('keeps tracking when the app replaces res.locals with a copy of it', async () => {
    const app = appWith((a) =>
      a.get('/', (req, res) => {
        res.locals = { ...res.locals, title: 'Home' };
        req.track('Viewed Home');
        identifyUser(req, 'u1');
        res.send('ok');
      }),
    );
    await request(app).get('/').expect(200);
    await delivered(2);
  });

  it('warns once, and never throws, when res.locals was replaced by a new object', async () => {
    const emitted = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const app = appWith((a) =>
        a.get('/', (req, res) => {
          res.locals = {};
          req.track('Lost');
          req.track('Lost again');
          res.send('ok');
        }),
      );
      await request(app).get('/').expect(200);
      await request(app).get('/').expect(200);
      expect(
        emitted.mock.calls.filter(([, options]) => (options as { code?: string } | undefined)?.code === 'IDSTITCH_NOT_MOUNTED'),
      ).toHaveLength(1);
      await delivered(0);
    } finally {
      emitted.mockRestore();
    }
  });
});

describe('Express middleware: setup', () => {
  it('shares a Tracker passed in instead of options', async () => {
    const tracker = createTracker({ apiHost: stub.url, logger: false });
    middleware = tracking(tracker);
    expect(middleware.tracker).toBe(tracker);
    const app = express()
      .use(middleware)
      .get('/', (req, res) => {
        req.track('Shared');
        res.send('ok');
      });
    await request(app).get('/');
    await delivered(1);
  });

  it('fails fast on a typo in an option, naming it', () => {
    expect(() => tracking({ tokn: 'x' } as TrackerOptions)).toThrow(/`tokn` is not an option; did you mean `token`/);
  });

  it('exposes the request identity to the app', async () => {
    const app = appWith((a) => a.get('/', withUserId('u9'), (req, res) => res.json(identityOf(req))));
    const response = await request(app).get('/');
    expect(response.body).toEqual({ deviceId: deviceCookieOf(response), userId: 'u9' });
  });

  it('works on bare node:http: (req, res) with no next', async () => {
    middleware = tracking({ apiHost: stub.url, logger: false });
    const server = http.createServer((req, res) => {
      middleware(req, res);
      (req as typeof req & { track: (e: string) => void }).track('Bare');
      res.end('ok');
    });
    const response = await request(server).get('/');
    expect(deviceCookieOf(response)).toMatch(UUID_V4);
    await delivered(1);
  });
});

function withUserId(id: string) {
  return (req: Request, _res: unknown, next: () => void) => {
    (req as Request & { user?: unknown }).user = { id };
    next();
  };
}

import { Readable } from 'node:stream';
import fastifyCookie from '@fastify/cookie';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { identifyUser, identityOf, resetUser, tracking, type FastifyTrackingOptions } from '../adapters/fastify.js';
import { ConfigError, createTracker, type IdstitchError, type Tracker } from '../src/index.js';
import { startIngestStub, type IngestStub } from './support/ingest-stub.js';
import { deviceCookieOf, setCookies } from './support/set-cookies.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let stub: IngestStub;
let errors: IdstitchError[];
let app: FastifyInstance | undefined;

beforeEach(async () => {
  stub = await startIngestStub();
  errors = [];
});

afterEach(async () => {
  await app?.close();
  app = undefined;
  await stub.close();
});

/** A Fastify app with idstitch registered first; `routes` adds the app's own. Ready, so supertest can drive `app.server`. */
async function appWith(
  routes: (app: FastifyInstance) => unknown,
  options: FastifyTrackingOptions = {},
  server: FastifyServerOptions = {},
): Promise<FastifyInstance> {
  app = Fastify(server);
  await app.register(tracking, {
    apiHost: stub.url,
    token: 'test-token',
    onError: (error: IdstitchError) => errors.push(error),
    ...options,
  });
  await routes(app);
  await app.ready();
  return app;
}

async function delivered(count: number): Promise<Array<{ event: string; properties: Record<string, unknown> }>> {
  await app!.idstitch.flush();
  const events = stub.events();
  expect(events).toHaveLength(count);
  return events;
}

describe('Fastify plugin', () => {
  describe('the device id', () => {
    it('issues a UUID cookie on the first visit and the event carries it with an empty distinct_id', async () => {
      const fastify = await appWith((a) =>
        a.get('/pricing', async (req) => {
          req.track('Viewed Pricing', { plan: 'pro' });
          return 'ok';
        }),
      );
      const response = await request(fastify.server).get('/pricing').expect(200);
      const deviceId = deviceCookieOf(response);
      expect(deviceId).toMatch(UUID_V4);
      expect(setCookies(response)[0]).toMatch(/; Max-Age=34560000; Path=\/; HttpOnly; SameSite=Lax$/);
      expect(response.headers['cache-control']).toBe('private');
      const [event] = await delivered(1);
      expect(event).toMatchObject({ event: 'Viewed Pricing', properties: { distinct_id: '', $device_id: deviceId, plan: 'pro' } });
      expect(event!.properties).not.toHaveProperty('$user_id');
    });

    it('keeps the cookie on later visits: no new Set-Cookie, the same $device_id', async () => {
      const fastify = await appWith((a) => a.get('/', async (req) => void req.track('Viewed Home')));
      const agent = request.agent(fastify.server);
      const first = deviceCookieOf(await agent.get('/'));
      const again = await agent.get('/');
      expect(setCookies(again)).toEqual([]);
      const events = await delivered(2);
      expect(events.map((e) => e.properties.$device_id)).toEqual([first, first]);
    });

    it("keeps the app's other Set-Cookie headers: @fastify/cookie (signed) and reply.header", async () => {
      const fastify = await appWith(async (a) => {
        await a.register(fastifyCookie, { secret: 'example secret' });
        a.get('/', async (_req, reply) => {
          reply.setCookie('session', 'abc', { signed: true, path: '/' });
          reply.header('set-cookie', 'theme=dark; Path=/');
          return 'ok';
        });
      });
      const response = await request(fastify.server).get('/').expect(200);
      const names = setCookies(response).map((line) => line.split('=')[0]);
      expect(names.sort()).toEqual(['idstitch_device', 'session', 'theme']);
      expect(deviceCookieOf(response)).toMatch(UUID_V4);
    });

    it('makes a public response private when it issues an id, keeping the other directives', async () => {
      const fastify = await appWith((a) =>
        a.get('/', async (_req, reply) => {
          reply.header('cache-control', 'public, max-age=600, s-maxage=3600');
          return 'ok';
        }),
      );
      const response = await request(fastify.server).get('/');
      expect(response.headers['cache-control']).toBe('private, max-age=600');
    });

    it('marks the cookie Secure when trustProxy trusts the X-Forwarded-Proto that says HTTPS, and not otherwise', async () => {
      const untrusting = await appWith((a) => a.get('/', async () => 'ok'));
      const spoofed = await request(untrusting.server).get('/').set('X-Forwarded-Proto', 'https');
      expect(setCookies(spoofed)[0]).not.toContain('Secure');
      await untrusting.close();
      const trusting = await appWith((a) => a.get('/', async () => 'ok'), {}, { trustProxy: true });
      const trusted = await request(trusting.server).get('/').set('X-Forwarded-Proto', 'https');
      expect(setCookies(trusted)[0]).toContain('; Secure');
    });

    it("writes the cookie on Fastify's error page and its 404: the event tracked before the throw carries that id", async () => {
      const fastify = await appWith((a) =>
        a.get('/boom', async (req) => {
          req.track('Tried');
          throw new Error('database down');
        }),
      );
      const failed = await request(fastify.server).get('/boom').expect(500);
      expect(failed.body).toMatchObject({ message: 'database down' });
      const deviceId = deviceCookieOf(failed);
      expect(deviceId).toMatch(UUID_V4);
      const [tried] = await delivered(1);
      expect(tried!.properties.$device_id).toBe(deviceId);
      const missing = await request(fastify.server).get('/nowhere').expect(404);
      expect(deviceCookieOf(missing)).toMatch(UUID_V4);
    });

    it('writes the cookie next to the headers of a hijacked reply written with writeHead(status, headers)', async () => {
      const fastify = await appWith((a) =>
        a.post('/logout', (req, reply) => {
          resetUser(req);
          reply.hijack();
          reply.raw.writeHead(302, { Location: '/', 'Set-Cookie': 'sid=; Max-Age=0' });
          reply.raw.end();
        }),
      );
      const response = await request(fastify.server).post('/logout').set('Cookie', `idstitch_device=${crypto.randomUUID()}`).expect(302);
      expect(setCookies(response).map((line) => line.split('=')[0])).toEqual(['sid', 'idstitch_device']);
      expect(deviceCookieOf(response)).toMatch(UUID_V4);
      expect(fastify.idstitch.stats().identity.rotated).toBe(1);
    });

    it('writes the cookie on a streamed reply', async () => {
      const fastify = await appWith((a) =>
        a.get('/stream', async (req, reply) => {
          req.track('Streamed');
          reply.type('text/plain');
          return reply.send(Readable.from(['a', 'b', 'c']));
        }),
      );
      const response = await request(fastify.server).get('/stream').expect(200);
      expect(response.text).toBe('abc');
      const [event] = await delivered(1);
      expect(event!.properties.$device_id).toBe(deviceCookieOf(response));
    });
  });

  describe('users', () => {
    it('adds $user_id from request.user.id (@fastify/passport), then request.user.sub (@fastify/jwt)', async () => {
      const fastify = await appWith((a) => {
        a.get('/passport', async (req) => {
          (req as { user?: unknown }).user = { id: 42 };
          req.track('A');
          return 'ok';
        });
        a.get('/jwt', async (req) => {
          (req as { user?: unknown }).user = { sub: 'auth0|7' };
          req.track('B');
          return 'ok';
        });
      });
      await request(fastify.server).get('/passport').expect(200);
      await request(fastify.server).get('/jwt').expect(200);
      const events = await delivered(2);
      expect(events.map((e) => e.properties.$user_id)).toEqual(['42', 'auth0|7']);
    });

    it('hands the Fastify request to a getUserId option', async () => {
      const seen: unknown[] = [];
      const fastify = await appWith((a) => a.get('/', async (req) => void req.track('A')), {
        getUserId: (req) => {
          seen.push(req);
          return 'acct-9';
        },
      });
      await request(fastify.server).get('/').expect(200);
      const [event] = await delivered(1);
      expect(event!.properties.$user_id).toBe('acct-9');
      expect(seen[0]).toHaveProperty('routeOptions');
    });

    it('links on login and rotates on logout: the guide’s flows', async () => {
      const fastify = await appWith((a) => {
        a.get('/', async (req) => void req.track('Viewed Home'));
        a.post('/login', async (req) => {
          identifyUser(req, 'u1');
          req.track('Logged In');
          return 'in';
        });
        a.post('/logout', async (req) => {
          (req as { user?: unknown }).user = { id: 'u1' }; // what a session middleware restores
          req.track('Logged Out');
          resetUser(req);
          req.track('Viewed Home');
          return 'out';
        });
      });
      const agent = request.agent(fastify.server);
      const before = deviceCookieOf(await agent.get('/'));
      await agent.post('/login').expect(200);
      const logout = await agent.post('/logout').expect(200);
      const after = deviceCookieOf(logout);
      expect(after).toMatch(UUID_V4);
      expect(after).not.toBe(before);
      const events = await delivered(5);
      expect(events.map((e) => [e.event, e.properties.$device_id, e.properties.$user_id])).toEqual([
        ['Viewed Home', before, undefined],
        ['User Identified', before, 'u1'],
        ['Logged In', before, 'u1'],
        ['Logged Out', before, 'u1'],
        ['Viewed Home', after, undefined],
      ]);
    });

    it('gives request.people and request.register to every request', async () => {
      const fastify = await appWith((a) =>
        a.post('/plan', async (req) => {
          identifyUser(req, 'u5');
          req.register({ plan: 'pro' });
          req.people.set({ plan: 'pro' });
          req.track('Upgraded');
          return 'ok';
        }),
      );
      await request(fastify.server).post('/plan').expect(200);
      await fastify.idstitch.flush();
      // The stub records /import events and /engage updates alike.
      const records = stub.events() as unknown as Array<Record<string, unknown>>;
      const tracked = records.filter((record) => 'event' in record);
      expect(tracked[1]).toMatchObject({ event: 'Upgraded', properties: { plan: 'pro', $user_id: 'u5' } });
      expect(records.filter((record) => '$distinct_id' in record)).toMatchObject([{ $distinct_id: 'u5', $set: { plan: 'pro' } }]);
    });
  });

  describe('never breaks the host', () => {
    it('reports bad properties with a code, answers 200, and still delivers the good events', async () => {
      const fastify = await appWith((a) =>
        a.get('/', async (req) => {
          req.track('Bad BigInt', { amount: 10n });
          req.track('', {});
          req.track('Good', { ok: true });
          return 'ok';
        }),
      );
      await request(fastify.server).get('/').expect(200);
      const events = await delivered(1);
      expect(events[0]!.event).toBe('Good');
      expect(errors.map((e) => e.code)).toEqual(['IDSTITCH_INVALID_PROPERTIES', 'IDSTITCH_INVALID_EVENT_NAME']);
    });

    it('reports a logout after the headers went out instead of throwing', async () => {
      const fastify = await appWith((a) =>
        a.get('/stream', (req, reply) => {
          reply.hijack();
          reply.raw.statusCode = 200;
          reply.raw.write('partial');
          resetUser(req);
          reply.raw.end();
        }),
      );
      await request(fastify.server).get('/stream').expect(200);
      expect(errors.map((e) => e.code)).toContain('IDSTITCH_HEADERS_SENT');
    });
  });

  describe('setup', () => {
    it('tracks in routes of encapsulated child plugins: the plugin decorates the app it is registered on', async () => {
      const fastify = await appWith((a) =>
        a.register(
          async (child) => {
            child.get('/inside', async (req) => void req.track('Inside'));
          },
          { prefix: '/v1' },
        ),
      );
      await request(fastify.server).get('/v1/inside').expect(200);
      await delivered(1);
    });

    it('delivers what is queued on app.close(), and shuts its own tracker down', async () => {
      const fastify = await appWith((a) => a.get('/', async (req) => void req.track('Before Close')));
      await request(fastify.server).get('/').expect(200);
      const tracker = fastify.idstitch;
      await fastify.close();
      app = undefined;
      expect(stub.events().map((e) => e.event)).toEqual(['Before Close']);
      tracker.track('After Close', {}, { deviceId: crypto.randomUUID() });
      expect(tracker.stats().dropped.tracker_closed).toBe(1);
    });

    it('shares a tracker passed as { tracker }: app.close() flushes it but leaves it running', async () => {
      const tracker: Tracker = createTracker({ apiHost: stub.url, logger: false });
      try {
        app = Fastify();
        await app.register(tracking, { tracker });
        app.get('/', async (req) => void req.track('Shared'));
        await app.ready();
        expect(app.idstitch).toBe(tracker);
        await request(app.server).get('/').expect(200);
        await app.close();
        app = undefined;
        expect(stub.events()).toHaveLength(1);
        tracker.track('Still Open', {}, { deviceId: crypto.randomUUID() });
        await tracker.flush();
        expect(stub.events()).toHaveLength(2);
      } finally {
        await tracker.shutdown();
      }
    });

    it('exposes the request identity to the app', async () => {
      const fastify = await appWith((a) =>
        a.get('/', async (req) => {
          identifyUser(req, 'u9');
          return identityOf(req);
        }),
      );
      const response = await request(fastify.server).get('/');
      expect(response.body).toEqual({ deviceId: deviceCookieOf(response), userId: 'u9' });
    });
  });
});

describe('Fastify plugin: setup errors', () => {
  it('rejects register() on a typo in an option, naming it', async () => {
    app = Fastify();
    await expect(app.register(tracking, { tokn: 'x' } as FastifyTrackingOptions)).rejects.toThrow(
      /`tokn` is not an option; did you mean `token`/,
    );
  });

  it('refuses to be registered twice on one app', async () => {
    app = Fastify();
    await app.register(tracking, { apiHost: stub.url, logger: false });
    await expect(app.register(tracking, { apiHost: stub.url, logger: false })).rejects.toThrow(ConfigError);
  });

  it('warns instead of throwing when identifyUser runs on a request the plugin never saw', async () => {
    // Captured, not printed: the warning is the behaviour under test.
    const emitted = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      app = Fastify();
      app.post('/login', async (req) => {
        expect(identifyUser(req, 'u1')).toBeUndefined();
        return 'ok';
      });
      await app.ready();
      await request(app.server).post('/login').expect(200);
      expect(emitted).toHaveBeenCalledWith(
        expect.stringMatching(/^identifyUser\(request\) ran on a request the idstitch tracking\(\) middleware did not see/),
        { code: 'IDSTITCH_NOT_MOUNTED' },
      );
    } finally {
      emitted.mockRestore();
    }
  });
});

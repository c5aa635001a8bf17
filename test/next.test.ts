// idstitch/next against the real `next` package: NextRequest/NextResponse from next/server,
// redirect()/notFound() from next/navigation, cookies()/headers()/after() inside Next's own request
// stores (test/support/next-request-scope.ts), and Pages Router API routes over node:http.
// First, as in `next start`: Next's request stores need AsyncLocalStorage on globalThis when they load.
import 'next/dist/server/node-environment-baseline.js';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NextApiRequest, NextApiResponse } from 'next';
import { notFound, redirect } from 'next/navigation.js';
import { NextRequest, NextResponse } from 'next/server.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  nextTracking,
  type NextAdapterOptions,
  type NextTracking,
  type TrackedApiHandler,
  type UserIdSource,
} from '../adapters/next/index.js';
import { ConfigError, createTracker, type IdstitchError, type Tracker } from '../src/index.js';
import { startIngestStub, type IngestStub } from './support/ingest-stub.js';
import { runInNextRequest } from './support/next-request-scope.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ID = '6f1c2a4e-9b7d-4c3e-8a2f-1d0e9c8b7a65';

let stub: IngestStub;
let errors: IdstitchError[];
let tracker: Tracker;

beforeEach(async () => {
  stub = await startIngestStub();
  errors = [];
  // A long interval: whatever arrives was sent by the adapter's flush, not the timer.
  tracker = createTracker({ apiHost: stub.url, token: 't', flushIntervalMs: 600_000, onError: (error) => errors.push(error) });
});

afterEach(async () => {
  await tracker.shutdown({ timeoutMs: 2000 });
  await stub.close();
});

function setup(options: NextAdapterOptions = {}): NextTracking {
  return nextTracking(tracker, options);
}

function get(url = 'http://localhost/api', headers: Record<string, string> = {}): NextRequest {
  return new NextRequest(url, { headers });
}

/** The device id our Set-Cookie line carries, or undefined. */
function cookieId(response: Response): string | undefined {
  const line = response.headers.getSetCookie().find((l) => l.startsWith('idstitch_device='));
  return line?.slice('idstitch_device='.length, line.indexOf(';'));
}

/** Calls a wrapped Route Handler the way Next does: (request, { params }). */
function call<C>(
  handler: (request: NextRequest, context: C) => Promise<Response>,
  request: NextRequest,
  context = { params: Promise.resolve({}) } as C,
): Promise<Response> {
  return handler(request, context);
}

/** A thrown value, for identity checks. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('did not throw');
}

describe('withTracking (Route Handlers)', () => {
  it('issues a device id on a request without one and sets it on the returned response', async () => {
    let seen: string | undefined;
    const { withTracking } = setup();
    const response = await call(
      withTracking((_request, { tracking }) => {
        seen = tracking.deviceId;
        tracking.track('Checked Out');
        return Response.json({ ok: true });
      }),
      get(),
    );
    expect(seen).toMatch(UUID_V4);
    expect(cookieId(response)).toBe(seen);
    expect(response.headers.get('set-cookie')).toBe(`idstitch_device=${seen}; Max-Age=34560000; Path=/; HttpOnly; SameSite=Lax`);
    expect(response.headers.get('cache-control')).toBe('private'); // a new id must never be cached for others
    expect(await response.json()).toEqual({ ok: true });
    expect((await stub.waitForEvents(1))[0]!.properties).toMatchObject({ $device_id: seen });
    expect(tracker.stats().identity.issued).toBe(1);
  });

  it('keeps a valid device id and writes no cookie', async () => {
    const { withTracking } = setup();
    let seen: string | undefined;
    const response = await call(
      withTracking((_request, { tracking }) => {
        seen = tracking.deviceId;
        return new Response('ok');
      }),
      get('http://localhost/api', { cookie: `idstitch_device=${ID}` }),
    );
    expect(seen).toBe(ID);
    expect(response.headers.getSetCookie()).toEqual([]);
  });

  it('keeps the Set-Cookie lines of the Response the handler returns', async () => {
    const { withTracking } = setup();
    const response = await call(
      withTracking(() => {
        const headers = new Headers();
        headers.append('set-cookie', 'a=1; Path=/');
        headers.append('set-cookie', 'b=2; Path=/');
        return new Response('ok', { headers });
      }),
      get(),
    );
    expect(response.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; Path=/', expect.stringMatching(/^idstitch_device=/)]);
  });

  it('adds the cookie to a copy of an immutable response (Response.redirect), status and Location kept', async () => {
    const { withTracking } = setup();
    let original: Response | undefined;
    let rotated: string | undefined;
    const response = await call(
      withTracking((_request, { tracking }) => {
        tracking.reset(); // logout
        rotated = tracking.deviceId;
        original = Response.redirect('http://localhost/', 303);
        return original;
      }),
      get('http://localhost/logout', { cookie: `idstitch_device=${ID}` }),
    );
    expect(response).not.toBe(original);
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('http://localhost/');
    expect(cookieId(response)).toBe(rotated);
    expect(rotated).not.toBe(ID);
    expect(tracker.stats().identity.rotated).toBe(1);
  });

  it('edits a NextResponse in place', async () => {
    const { withTracking } = setup();
    const own = NextResponse.json({ ok: true });
    own.cookies.set('theme', 'dark');
    const response = await call(
      withTracking(() => own),
      get(),
    );
    expect(response).toBe(own);
    expect(response.headers.getSetCookie()).toEqual(['theme=dark; Path=/', expect.stringMatching(/^idstitch_device=/)]);
  });

  it('marks the cookie Secure on HTTPS', async () => {
    const { withTracking } = setup();
    const response = await call(
      withTracking(() => new Response('ok')),
      get('https://example.com/api'),
    );
    expect(response.headers.get('set-cookie')).toContain('; Secure');
  });

  it('passes Next’s context (params) through beside tracking', async () => {
    const { withTracking } = setup();
    const handler = withTracking<{ params: Promise<{ slug: string }> }>(async (_request, { params, tracking }) => {
      return Response.json({ slug: (await params).slug, tracked: typeof tracking.track });
    });
    const response = await handler(get(), { params: Promise.resolve({ slug: 'pro' }) });
    expect(await response.json()).toEqual({ slug: 'pro', tracked: 'function' });
  });

  it('resolves an async getUserId once per request, with the request, and sends the user id', async () => {
    const sources: UserIdSource[] = [];
    const { withTracking } = setup({
      getUserId: async (source) => {
        sources.push(source);
        await new Promise((resolve) => setImmediate(resolve));
        return 'user-7';
      },
    });
    const request = get();
    await call(
      withTracking((_request, { tracking }) => {
        tracking.track('A');
        tracking.track('B');
        expect(tracking.userId).toBe('user-7');
        return new Response('ok');
      }),
      request,
    );
    expect(sources).toEqual([{ type: 'route', request }]);
    const events = await stub.waitForEvents(2);
    expect(events.map((e) => e.properties.$user_id)).toEqual(['user-7', 'user-7']);
  });

  it('links on login with identify(id) and rotates on logout with reset()', async () => {
    const { withTracking } = setup({ getUserId: () => undefined });
    await call(
      withTracking((_request, { tracking }) => {
        tracking.track('Viewed Login');
        expect(tracking.identify('user-1')).toBe('user-1');
        tracking.track('Logged In');
        tracking.reset();
        tracking.track('After Logout');
        return new Response('ok');
      }),
      get('http://localhost/', { cookie: `idstitch_device=${ID}` }),
    );
    const events = await stub.waitForEvents(4);
    expect(events.map((e) => [e.event, e.properties.$device_id === ID, e.properties.$user_id])).toEqual([
      ['Viewed Login', true, undefined],
      ['User Identified', true, 'user-1'],
      ['Logged In', true, 'user-1'],
      ['After Logout', false, undefined],
    ]);
  });

  it('reports a throwing getUserId and treats the request as anonymous', async () => {
    const { withTracking } = setup({
      getUserId: () => {
        throw new Error('session store down');
      },
    });
    const response = await call(
      withTracking((_request, { tracking }) => Response.json({ user: tracking.userId ?? null })),
      get(),
    );
    expect(await response.json()).toEqual({ user: null });
    expect(errors.map((e) => e.code)).toEqual(['IDSTITCH_GET_USER_ID_FAILED']);
    expect(tracker.stats().identity.userIdResolverErrors).toBe(1);
  });

  it('refuses a placeholder user id from getUserId (reported once), anonymous', async () => {
    const { withTracking } = setup({ getUserId: async () => 'undefined' });
    await call(
      withTracking((_request, { tracking }) => {
        tracking.track('A');
        tracking.track('B');
        return new Response('ok');
      }),
      get(),
    );
    expect((await stub.waitForEvents(2)).map((e) => e.properties.$user_id)).toEqual([undefined, undefined]);
    expect(errors.map((e) => e.code)).toEqual(['IDSTITCH_INVALID_USER_ID']);
  });

  it.each([
    ['redirect()', () => redirect('/login')],
    ['notFound()', () => notFound()],
  ])('lets %s thrown by getUserId through unchanged', async (_name, control) => {
    const error = thrown(control);
    const { withTracking } = setup({
      getUserId: () => {
        throw error;
      },
    });
    let ran = false;
    const handler = withTracking(() => {
      ran = true;
      return new Response('ok');
    });
    await expect(call(handler, get())).rejects.toBe(error);
    expect(ran).toBe(false);
    expect(errors).toEqual([]);
  });

  it.each([
    ['redirect()', () => redirect('/login')],
    ['notFound()', () => notFound()],
  ])('lets %s thrown by the handler through unchanged', async (_name, control) => {
    const error = thrown(control);
    const { withTracking } = setup();
    const handler = withTracking((_request, { tracking }) => {
      tracking.track('Before Redirect');
      throw error;
    });
    await expect(call(handler, get())).rejects.toBe(error);
    await stub.waitForEvents(1); // still flushed
    expect(errors).toEqual([]);
  });

  it('sends a pending cookie through cookies() when the handler throws redirect() inside Next', async () => {
    const { withTracking } = setup();
    const error = thrown(() => redirect('/'));
    let rotated: string | undefined;
    const run = runInNextRequest({ phase: 'action', headers: { cookie: `idstitch_device=${ID}` } }, () =>
      call(
        withTracking((_request, { tracking }) => {
          tracking.reset();
          rotated = tracking.deviceId;
          throw error;
        }),
        get('http://localhost/logout', { cookie: `idstitch_device=${ID}` }),
      ),
    );
    await expect(run.result).rejects.toBe(error);
    expect(run.cookiesSet()).toEqual([
      expect.stringMatching(new RegExp(`^idstitch_device=${rotated}; Path=/;.*Max-Age=34560000; HttpOnly; SameSite=lax$`)),
    ]);
  });

  it('flushes through after() once the response is done, inside Next', async () => {
    const { withTracking } = setup();
    const run = runInNextRequest({ phase: 'action' }, () =>
      call(
        withTracking((_request, { tracking }) => {
          tracking.track('Purchased');
          return new Response('ok');
        }),
        get(),
      ),
    );
    await run.result;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stub.requests).toHaveLength(0); // after() waits for the response to close
    await run.close();
    expect(stub.events().map((e) => e.event)).toEqual(['Purchased']);
  });

  it('leaves flushing to the interval with flushAfterResponse: false', async () => {
    const { withTracking } = setup({ flushAfterResponse: false });
    await call(
      withTracking((_request, { tracking }) => {
        tracking.track('Quiet');
        return new Response('ok');
      }),
      get(),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stub.requests).toHaveLength(0);
    await tracker.flush();
    expect(stub.events()).toHaveLength(1);
  });

  it('reports reset() after the response was returned instead of throwing', async () => {
    const { withTracking } = setup();
    let later: (() => void) | undefined;
    await call(
      withTracking((_request, { tracking }) => {
        later = () => tracking.reset();
        return new Response('ok');
      }),
      get('http://localhost/', { cookie: `idstitch_device=${ID}` }),
    );
    expect(() => later!()).not.toThrow();
    expect(errors.map((e) => e.code)).toEqual(['IDSTITCH_HEADERS_SENT']);
  });

  it('throws ConfigError when given something other than a handler', () => {
    const { withTracking } = setup();
    expect(() => withTracking('nope' as never)).toThrow(ConfigError);
  });
});

describe('getTracking (Server Components, read-only)', () => {
  it('uses the id the proxy forwarded and sets no cookie', async () => {
    const { getTracking } = setup();
    const run = runInNextRequest({ phase: 'render', headers: { cookie: `a=1; idstitch_device=${ID}` } }, async () => {
      const tracking = await getTracking();
      tracking.track('Viewed Pricing');
      return tracking.deviceId;
    });
    expect(await run.result).toBe(ID);
    await run.close(); // after() flushes
    expect(stub.events()[0]!.properties).toMatchObject({ $device_id: ID });
    expect(run.cookiesSet()).toEqual([]);
    expect(tracker.stats().identity.unwritable).toBe(0);
  });

  it('counts a missing id as unwritable, never throws, and keeps one id for the whole request', async () => {
    const { getTracking } = setup();
    const run = runInNextRequest({ phase: 'render' }, async () => {
      const [a, b] = await Promise.all([getTracking(), getTracking()]);
      return [a.deviceId, b.deviceId];
    });
    const [a, b] = await run.result;
    expect(a).toMatch(UUID_V4);
    expect(b).toBe(a);
    expect(tracker.stats().identity).toMatchObject({ unwritable: 1, issued: 0 });
    expect(errors).toEqual([]);
    await run.close();
  });

  it('reports reset() as IDSTITCH_COOKIE_READ_ONLY and counts it, without throwing', async () => {
    const { getTracking } = setup();
    const run = runInNextRequest({ phase: 'render', headers: { cookie: `idstitch_device=${ID}` } }, async () => {
      const tracking = await getTracking();
      tracking.reset();
      return tracking.deviceId;
    });
    expect(await run.result).not.toBe(ID);
    expect(errors.map((e) => e.code)).toEqual(['IDSTITCH_COOKIE_READ_ONLY']);
    expect(tracker.stats().identity.unwritable).toBe(1);
    await run.close();
  });

  it('identify() in a Server Component links, says the cookie cannot record it, and the next request of that browser still knows the link', async () => {
    const { getTracking, actionTracking } = setup();
    const render = runInNextRequest({ phase: 'render', headers: { cookie: `idstitch_device=${ID}` } }, async () =>
      (await getTracking()).identify('ada'),
    );
    expect(await render.result).toBe('ada');
    await render.close();
    expect(errors.map((e) => e.code)).toEqual(['IDSTITCH_COOKIE_READ_ONLY']);
    expect(tracker.stats().identity).toMatchObject({ linksNotRecorded: 1, switched: 0 });
    expect(render.cookiesSet()).toEqual([]);

    // The browser comes back with the same unmarked cookie, and someone else signs in.
    const action = runInNextRequest({ phase: 'action', headers: { cookie: `idstitch_device=${ID}` } }, async () => {
      const tracking = await actionTracking();
      tracking.identify('grace');
      return tracking.deviceId;
    });
    const graceDevice = await action.result;
    await action.close();
    expect(graceDevice, 'grace never rides the device ada was linked to').not.toBe(ID);
    expect(tracker.stats().identity.switched).toBe(1);
    const linked = stub
      .events()
      .filter((e) => e.event === 'User Identified')
      .map((e) => [e.properties.$device_id, e.properties.$user_id]);
    expect(linked).toEqual([
      [ID, 'ada'],
      [graceDevice, 'grace'],
    ]);
  });

  it('asks an async getUserId once per request, however many components call getTracking', async () => {
    let calls = 0;
    const { getTracking } = setup({
      getUserId: async (source) => {
        calls++;
        expect(source).toEqual({ type: 'server' });
        return 42;
      },
    });
    const run = runInNextRequest({ phase: 'render', headers: { cookie: `idstitch_device=${ID}` } }, async () => {
      const all = await Promise.all([getTracking(), getTracking(), getTracking()]);
      return all.map((t) => t.userId);
    });
    expect(await run.result).toEqual(['42', '42', '42']);
    expect(calls).toBe(1);
    await run.close();
  });

  it.each([
    ['redirect()', () => redirect('/login')],
    ['notFound()', () => notFound()],
  ])('lets %s from getUserId through unchanged', async (_name, control) => {
    const error = thrown(control);
    const { getTracking } = setup({
      getUserId: () => Promise.reject(error),
    });
    const run = runInNextRequest({ phase: 'render' }, () => getTracking());
    await expect(run.result).rejects.toBe(error);
    expect(errors).toEqual([]);
    await run.close();
  });

  it('fails like cookies() does outside a request (Next’s own error)', async () => {
    const { getTracking } = setup();
    await expect(getTracking()).rejects.toThrow(/outside a request scope/);
  });
});

describe('actionTracking (Server Actions)', () => {
  it('issues a device id through cookies().set when the request has none', async () => {
    const { actionTracking } = setup();
    const run = runInNextRequest({ phase: 'action' }, async () => (await actionTracking()).deviceId);
    const id = await run.result;
    expect(id).toMatch(UUID_V4);
    expect(run.cookiesSet()).toEqual([
      expect.stringMatching(new RegExp(`^idstitch_device=${id}; Path=/; Expires=[^;]+; Max-Age=34560000; HttpOnly; SameSite=lax$`)),
    ]);
    expect(tracker.stats().identity).toMatchObject({ issued: 1, unwritable: 0 });
    await run.close();
  });

  it('rotates the id on reset(), with the old one on the events before', async () => {
    const { actionTracking } = setup({ getUserId: async () => 'user-1' });
    const run = runInNextRequest({ phase: 'action', headers: { cookie: `idstitch_device=${ID}` } }, async () => {
      const tracking = await actionTracking();
      tracking.track('Logged Out');
      tracking.reset();
      tracking.track('Viewed Home');
      return tracking.deviceId;
    });
    const rotated = await run.result;
    expect(run.cookiesSet()).toEqual([expect.stringMatching(new RegExp(`^idstitch_device=${rotated};`))]);
    await run.close();
    expect(stub.events().map((e) => [e.event, e.properties.$device_id, e.properties.$user_id])).toEqual([
      ['Logged Out', ID, 'user-1'],
      ['Viewed Home', rotated, undefined],
    ]);
  });

  it('writes one cookie, the rotated id, when a new id is reset in the same action', async () => {
    const { actionTracking } = setup();
    const run = runInNextRequest({ phase: 'action' }, async () => {
      const tracking = await actionTracking();
      const first = tracking.deviceId;
      tracking.reset();
      return [first, tracking.deviceId];
    });
    const [first, rotated] = await run.result;
    expect(rotated).not.toBe(first);
    expect(run.cookiesSet()).toEqual([expect.stringMatching(new RegExp(`^idstitch_device=${rotated};`))]);
    await run.close();
  });

  it('sets the cookie Secure when the request came over HTTPS', async () => {
    const { actionTracking } = setup();
    const run = runInNextRequest({ phase: 'action', url: 'https://example.com/' }, () => actionTracking());
    await run.result;
    expect(run.cookiesSet()[0]).toContain('; Secure');
    await run.close();
  });

  it('counts and reports, never throws, when used where cookies are read-only', async () => {
    const { actionTracking } = setup();
    const run = runInNextRequest({ phase: 'render' }, async () => (await actionTracking()).deviceId);
    expect(await run.result).toMatch(UUID_V4);
    expect(errors.map((e) => e.code)).toEqual(['IDSTITCH_COOKIE_READ_ONLY']);
    expect(tracker.stats().identity).toMatchObject({ unwritable: 1, issued: 0 });
    await run.close();
  });
});

describe('withApiTracking (Pages Router API routes over node:http)', () => {
  let server: http.Server | undefined;

  afterEach(() => {
    server?.close();
    server = undefined;
  });

  async function serve(handler: TrackedApiHandler, options: NextAdapterOptions = {}): Promise<string> {
    const route = setup(options).withApiTracking(handler);
    server = http.createServer((req, res) => void route(req as NextApiRequest, res as NextApiResponse));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('issues the cookie with the response headers, keeping the route’s own Set-Cookie', async () => {
    let seen: string | undefined;
    const base = await serve((_req, res, tracking) => {
      seen = tracking.deviceId;
      tracking.track('Called API');
      res.setHeader('set-cookie', 'theme=dark; Path=/');
      res.end('ok');
    });
    const response = await fetch(`${base}/api/hello`);
    expect(await response.text()).toBe('ok');
    expect(response.headers.getSetCookie()).toEqual([
      'theme=dark; Path=/',
      `idstitch_device=${seen}; Max-Age=34560000; Path=/; HttpOnly; SameSite=Lax`,
    ]);
    expect((await stub.waitForEvents(1))[0]!.properties.$device_id).toBe(seen); // flushed without after()
  });

  it('keeps the id on later requests, resolves getUserId with req and res, and rotates on reset()', async () => {
    const sources: string[] = [];
    const base = await serve(
      (req, res, tracking) => {
        if (req.url === '/api/logout') tracking.reset();
        res.end(JSON.stringify({ deviceId: tracking.deviceId, userId: tracking.userId ?? null }));
      },
      {
        getUserId: async (source) => {
          if (source.type !== 'api') throw new Error('wrong source');
          sources.push(`${(source.req as IncomingMessage).url} ${typeof (source.res as ServerResponse).setHeader}`);
          return 'user-9';
        },
      },
    );
    const same = await fetch(`${base}/api/me`, { headers: { cookie: `idstitch_device=${ID}` } });
    expect(await same.json()).toEqual({ deviceId: ID, userId: 'user-9' });
    expect(same.headers.getSetCookie()).toEqual([]);
    const out = await fetch(`${base}/api/logout`, { headers: { cookie: `idstitch_device=${ID}` } });
    const body = (await out.json()) as { deviceId: string; userId: string | null };
    expect(body.deviceId).not.toBe(ID);
    expect(body.userId).toBeNull();
    expect(out.headers.get('set-cookie')).toContain(`idstitch_device=${body.deviceId};`);
    expect(sources).toEqual(['/api/me function', '/api/logout function']);
  });

  it('hands the flush to the platform’s waitUntil when there is one', async () => {
    const key = Symbol.for('@next/request-context');
    const waited: Array<Promise<unknown>> = [];
    (globalThis as Record<symbol, unknown>)[key] = { get: () => ({ waitUntil: (promise: Promise<unknown>) => waited.push(promise) }) };
    try {
      const base = await serve((_req, res, tracking) => {
        tracking.track('Serverless');
        res.end('ok');
      });
      await (await fetch(`${base}/`)).text();
      expect(waited).toHaveLength(1);
      await waited[0];
      expect(stub.events().map((e) => e.event)).toEqual(['Serverless']);
    } finally {
      delete (globalThis as Record<symbol, unknown>)[key];
    }
  });
});

describe('nextTracking()', () => {
  const made: Tracker[] = [];
  afterEach(async () => {
    await Promise.all(made.splice(0).map((t) => t.shutdown({ timeoutMs: 1000 })));
  });

  it('creates one tracker per process for the same options, so bundles and reloads share it', () => {
    const options = { apiHost: stub.url, token: 'shared-test', logger: false as const, getUserId: () => 'a' };
    const first = nextTracking(options);
    const again = nextTracking({ ...options, getUserId: () => 'b' });
    const other = nextTracking({ ...options, token: 'other-test' });
    made.push(first.tracker, other.tracker);
    expect(again.tracker).toBe(first.tracker);
    expect(other.tracker).not.toBe(first.tracker);
  });

  it('gives configurations that differ only in onError a tracker each, and each handler hears only its own errors', () => {
    const heardByFirst: string[] = [];
    const heardBySecond: string[] = [];
    const first = nextTracking({ apiHost: stub.url, token: 'handlers-test', onError: (error) => heardByFirst.push(error.code) });
    const second = nextTracking({
      apiHost: stub.url,
      token: 'handlers-test',
      onError: (error) => heardBySecond.push(`second:${error.code}`),
    });
    made.push(first.tracker, second.tracker);
    expect(second.tracker).not.toBe(first.tracker);
    second.tracker.track('');
    expect(heardByFirst).toEqual([]);
    expect(heardBySecond).toEqual(['second:IDSTITCH_INVALID_EVENT_NAME']);
  });

  it('shares one tracker between evaluations of the same code (new function objects, same source)', () => {
    const evaluate = () => nextTracking({ apiHost: stub.url, token: 'reload-test', logger: false, onError: (error) => void error });
    const first = evaluate();
    made.push(first.tracker);
    expect(evaluate().tracker).toBe(first.tracker);
  });

  it.each([
    ['getUserId', { getUserId: 'user' }],
    ['flushAfterResponse', { flushAfterResponse: 'yes' }],
    ['getUserID', { getUserID: () => 1 }],
    ['flushAt', { flushAt: 0 }],
  ])('rejects a bad or unknown option at once, naming it: %s', (option, options) => {
    try {
      made.push(nextTracking({ logger: false, ...(options as object) }).tracker);
      throw new Error('accepted');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).option).toBe(option);
    }
  });

  it('takes a Tracker with the Next options second, and uses the tracker’s own getUserId by default', async () => {
    expect(() => nextTracking(tracker, { token: 'x' } as never)).toThrow(ConfigError);
    expect(() => nextTracking({ token: 'x' } as never, {})).toThrow(ConfigError);
    const own = createTracker({ apiHost: stub.url, token: 't', flushIntervalMs: 600_000, getUserId: () => 'from-tracker' });
    made.push(own);
    const response = await call(
      nextTracking(own).withTracking((_request, { tracking }) => Response.json({ user: tracking.userId })),
      get(),
    );
    expect(await response.json()).toEqual({ user: 'from-tracker' });
  });
});

// idstitch/next/proxy against the real `next` package: NextRequest and NextResponse from
// next/server, Next's cookie classes to read what a page would see, and Next's own Edge runtime
// sandbox to show the module needs nothing but Web APIs.
import { createRequire } from 'node:module';
import { build } from 'esbuild';
import { NextRequest, NextResponse } from 'next/server.js';
import { describe, expect, it } from 'vitest';
import { withDeviceId } from '../adapters/next/proxy.js';
import { ConfigError } from '../src/errors.js';
import { deviceCookie } from '../src/identity.js';
import { normalizeOptions } from '../src/config.js';
import { downstream, fetchEvent } from './support/next-proxy-protocol.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ID = '6f1c2a4e-9b7d-4c3e-8a2f-1d0e9c8b7a65';
const distPath = new URL('../dist/esm/adapters/next/proxy.js', import.meta.url).pathname;

function requestTo(url: string, headers: Record<string, string> = {}): NextRequest {
  return new NextRequest(url, { headers });
}

async function run(proxy: ReturnType<typeof withDeviceId>, request: NextRequest): Promise<Response | null | undefined> {
  return proxy(request, fetchEvent(request));
}

/** The id in the response's Set-Cookie for our cookie. */
function issuedId(response: Response, name = 'idstitch_device'): string | undefined {
  const line = response.headers.getSetCookie().find((l) => l.startsWith(`${name}=`));
  return line?.slice(name.length + 1, line.indexOf(';'));
}

describe('withDeviceId()', () => {
  it('issues a device id that the same request already sees, in cookies() and in request.cookies', async () => {
    const request = requestTo('http://localhost/pricing', { cookie: 'theme=dark', 'x-app': '1' });
    const response = (await run(withDeviceId(), request))!;
    const id = issuedId(response);
    expect(id).toMatch(UUID_V4);
    expect(response.headers.get('x-middleware-next')).toBe('1');

    const seen = downstream(request, response);
    expect(seen.cookies.get('idstitch_device')?.value).toBe(id); // cookies() in pages and Server Actions
    expect(seen.request.cookies.get('idstitch_device')?.value).toBe(id); // request.cookies in Route Handlers
    expect(seen.cookies.get('theme')?.value).toBe('dark');
    expect(seen.headers.get('x-app')).toBe('1'); // every other request header survives the override
  });

  it('marks the response that issues an id Cache-Control: private, over anything a wrapped proxy set', async () => {
    const plain = (await run(withDeviceId(), requestTo('http://localhost/about')))!;
    expect(plain.headers.get('cache-control')).toBe('private');
    const cached = (await run(
      withDeviceId(() => NextResponse.next({ headers: { 'cache-control': 'public, s-maxage=31536000, max-age=60' } })),
      requestTo('http://localhost/about'),
    ))!;
    expect(cached.headers.get('cache-control')).toBe('private, max-age=60');
    const redirect = (await run(
      withDeviceId(() => NextResponse.redirect('http://localhost/login')),
      requestTo('http://localhost/account'),
    ))!;
    expect(redirect.headers.get('cache-control')).toBe('private');
    // A browser that has an id passes through untouched.
    const returning = (await run(withDeviceId(), requestTo('http://localhost/about', { cookie: `idstitch_device=${ID}` })))!;
    expect(returning).toBeUndefined();
  });

  it('writes what NextResponse.next({ request: { headers } }) plus cookies.set would', async () => {
    const request = requestTo('http://localhost/', { cookie: 'a=1', accept: 'text/html' });
    const ours = (await run(withDeviceId(), request))!;
    const id = issuedId(ours)!;

    const headers = new Headers(request.headers);
    headers.set('cookie', `a=1; idstitch_device=${id}`);
    const theirs = NextResponse.next({ request: { headers } });
    theirs.cookies.set('idstitch_device', id, { maxAge: 34_560_000, path: '/', httpOnly: true, sameSite: 'lax' });

    const list = (response: Response) => new Set(response.headers.get('x-middleware-override-headers')!.split(','));
    expect(list(ours)).toEqual(list(theirs));
    for (const name of list(theirs)) {
      expect(ours.headers.get(`x-middleware-request-${name}`), name).toBe(theirs.headers.get(`x-middleware-request-${name}`));
    }
    expect(ours.headers.get('x-middleware-next')).toBe(theirs.headers.get('x-middleware-next'));
    expect(downstream(request, ours).cookies.getAll()).toEqual(downstream(request, theirs).cookies.getAll());
  });

  it('sets the same cookie, name and attributes, as the tracker with the same cookie options', async () => {
    const options = { name: 'did', maxAge: 3600, sameSite: 'strict' as const };
    const response = (await run(withDeviceId({ cookie: options }), requestTo('https://example.com/')))!;
    const id = issuedId(response, 'did')!;
    const { cookie } = normalizeOptions({ cookie: options }, {});
    expect(response.headers.getSetCookie()).toEqual([deviceCookie(cookie, id, true)]);
  });

  it('marks the cookie Secure on HTTPS only, under the default secure: auto', async () => {
    const plain = (await run(withDeviceId(), requestTo('http://localhost/')))!;
    const https = (await run(withDeviceId(), requestTo('https://localhost/')))!;
    expect(plain.headers.get('set-cookie')).not.toContain('Secure');
    expect(https.headers.get('set-cookie')).toContain('; Secure');
  });

  it('issues no id to a browser that opted out with Sec-GPC: 1 (default), nor with DNT: 1 when asked; privacy.gpc false issues', async () => {
    const gpc = await run(withDeviceId(), requestTo('http://localhost/', { 'sec-gpc': '1' }));
    expect(gpc?.headers.getSetCookie() ?? []).toEqual([]);
    const dntIgnored = (await run(withDeviceId(), requestTo('http://localhost/', { dnt: '1' })))!;
    expect(issuedId(dntIgnored)).toMatch(UUID_V4);
    const dnt = await run(withDeviceId({ privacy: { dnt: true } }), requestTo('http://localhost/', { dnt: '1' }));
    expect(dnt?.headers.getSetCookie() ?? []).toEqual([]);
    const off = (await run(withDeviceId({ privacy: { gpc: false } }), requestTo('http://localhost/', { 'sec-gpc': '1' })))!;
    expect(issuedId(off)).toMatch(UUID_V4);
    expect(() => withDeviceId({ privacy: { gpc: 'yes' as unknown as boolean } })).toThrow(ConfigError);
    expect(() => withDeviceId({ privacy: { gcp: true } as never })).toThrow(/did you mean/);
  });

  it('lets a browser that has a valid id pass untouched', async () => {
    const proxy = withDeviceId();
    expect(await run(proxy, requestTo('http://localhost/', { cookie: `idstitch_device=${ID}` }))).toBeUndefined();
    const own = NextResponse.next();
    const wrapped = withDeviceId(() => own);
    expect(await run(wrapped, requestTo('http://localhost/', { cookie: `idstitch_device=${ID}` }))).toBe(own);
  });

  it('replaces an invalid id in the request, keeping the other cookies', async () => {
    const request = requestTo('http://localhost/', { cookie: 'a=1; idstitch_device=garbage; b=2' });
    const response = (await run(withDeviceId(), request))!;
    const id = issuedId(response)!;
    expect(downstream(request, response).headers.get('cookie')).toBe(`a=1; b=2; idstitch_device=${id}`);
  });

  it('gives every browser its own id', async () => {
    const proxy = withDeviceId();
    const ids = new Set<string | undefined>();
    for (let i = 0; i < 20; i++) ids.add(issuedId((await run(proxy, requestTo('http://localhost/')))!));
    expect(ids.size).toBe(20);
  });
});

describe('withDeviceId(yourProxy)', () => {
  it('keeps the request headers your proxy overrides and adds the cookie to them', async () => {
    const request = requestTo('http://localhost/', { cookie: 'a=1', 'x-drop': 'gone' });
    const response = (await run(
      withDeviceId((req) => {
        const headers = new Headers(req.headers);
        headers.set('x-user-tier', 'pro');
        headers.delete('x-drop');
        return NextResponse.next({ request: { headers } });
      }),
      request,
    ))!;
    const id = issuedId(response);
    const seen = downstream(request, response);
    expect(seen.headers.get('x-user-tier')).toBe('pro');
    expect(seen.headers.get('x-drop')).toBeNull();
    expect(seen.request.cookies.get('idstitch_device')?.value).toBe(id);
    expect(seen.cookies.get('a')?.value).toBe('1');
  });

  it('keeps the cookies your proxy sets, for the browser and for the page', async () => {
    const request = requestTo('http://localhost/');
    const response = (await run(
      withDeviceId(() => {
        const res = NextResponse.next();
        res.cookies.set('theme', 'dark');
        return res;
      }),
      request,
    ))!;
    const id = issuedId(response);
    expect(response.headers.getSetCookie()).toEqual(['theme=dark; Path=/', expect.stringMatching(/^idstitch_device=/)]);
    const seen = downstream(request, response);
    expect(seen.cookies.get('theme')?.value).toBe('dark');
    expect(seen.cookies.get('idstitch_device')?.value).toBe(id);
  });

  it('adds the cookie to a redirect whose headers are immutable (Response.redirect), on a copy', async () => {
    const redirect = Response.redirect('http://localhost/login', 307);
    expect(() => redirect.headers.append('x', '1')).toThrow(TypeError);
    const response = (await run(
      withDeviceId(() => redirect),
      requestTo('http://localhost/account'),
    ))!;
    expect(response).not.toBe(redirect);
    expect(response.status).toBe(307);
    expect(response.headers.get('location')).toBe('http://localhost/login');
    expect(issuedId(response)).toMatch(UUID_V4);
    expect(response.headers.has('x-middleware-override-headers')).toBe(false); // nothing renders after a redirect
  });

  it('adds the cookie to a NextResponse.redirect in place, and to a final answer such as a 401', async () => {
    const redirect = NextResponse.redirect('http://localhost/login');
    expect(
      await run(
        withDeviceId(() => redirect),
        requestTo('http://localhost/'),
      ),
    ).toBe(redirect);
    expect(issuedId(redirect)).toMatch(UUID_V4);

    const denied = (await run(
      withDeviceId(() => Response.json({ error: 'no' }, { status: 401 })),
      requestTo('http://localhost/'),
    ))!;
    expect(denied.status).toBe(401);
    expect(await denied.json()).toEqual({ error: 'no' });
    expect(issuedId(denied)).toMatch(UUID_V4);
  });

  it('puts the id into a rewritten request too', async () => {
    const request = requestTo('http://localhost/old');
    const response = (await run(
      withDeviceId(() => NextResponse.rewrite('http://localhost/new')),
      request,
    ))!;
    expect(response.headers.get('x-middleware-rewrite')).toBe('http://localhost/new');
    expect(downstream(request, response).cookies.get('idstitch_device')?.value).toBe(issuedId(response));
  });

  it('waits for an async proxy, passes it the event, and treats null like no response', async () => {
    const request = requestTo('http://localhost/');
    const event = fetchEvent(request);
    let seenEvent: unknown;
    const response = await withDeviceId(async (_req, ev) => {
      seenEvent = ev;
      await new Promise((resolve) => setImmediate(resolve));
      return null;
    })(request, event);
    expect(seenEvent).toBe(event);
    expect(response!.headers.get('x-middleware-next')).toBe('1');
  });

  it('lets errors from your proxy through unchanged', async () => {
    const failure = new Error('auth down');
    await expect(
      run(
        withDeviceId(() => Promise.reject(failure)),
        requestTo('http://localhost/'),
      ),
    ).rejects.toBe(failure);
  });
});

describe('withDeviceId options', () => {
  it.each([
    [{ cookies: {} }, 'cookies'],
    [{ cookie: { maxAge: 34_560_000_000 } }, 'cookie.maxAge'],
    [{ cookie: { name: '__Host-did', domain: 'example.com' } }, 'cookie.name'],
    [{ cookie: 'did' }, 'cookie'],
  ])('rejects %j at once, naming %s', (options, option) => {
    expect(() => withDeviceId(options as never)).toThrow(ConfigError);
    try {
      withDeviceId(options as never);
    } catch (error) {
      expect((error as ConfigError).option).toBe(option);
    }
  });

  it('rejects options that are not an object', () => {
    expect(() => withDeviceId(42 as never)).toThrow(ConfigError);
    expect(() => withDeviceId(() => undefined, 'did' as never)).toThrow(ConfigError);
  });
});

describe('Edge safety of idstitch/next/proxy (the built module)', () => {
  it('bundles without a Node.js built-in or undici and runs in Next’s Edge runtime sandbox', async () => {
    const bundled = await build({
      entryPoints: [distPath],
      bundle: true,
      write: false,
      format: 'iife',
      globalName: 'idstitchProxy',
      platform: 'neutral',
      mainFields: ['module', 'main'],
      logLevel: 'silent',
    });
    const code = bundled.outputFiles[0]!.text;
    expect(code).not.toMatch(/\bnode:|undici/);

    const { EdgeRuntime } = createRequire(import.meta.url)('next/dist/compiled/edge-runtime') as {
      EdgeRuntime: new (options: { initialCode: string }) => { evaluate<T>(code: string): Promise<T>; context: Record<string, unknown> };
    };
    const edge = new EdgeRuntime({ initialCode: code });
    expect([typeof edge.context.process, typeof edge.context.require, typeof edge.context.Buffer]).toEqual([
      'undefined',
      'undefined',
      'undefined',
    ]);
    const headers = await edge.evaluate<string[][]>(`(async () => {
      const proxy = idstitchProxy.withDeviceId({ cookie: { name: 'did' } });
      const response = await proxy(new Request('https://example.com/', { headers: { cookie: 'a=1' } }), {});
      return [...response.headers];
    })()`);
    const map = new Map(headers.map(([name, value]) => [name!, value!]));
    expect(map.get('set-cookie')).toMatch(/^did=[0-9a-f-]{36}; Max-Age=34560000; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    expect(map.get('x-middleware-request-cookie')).toMatch(/^a=1; did=[0-9a-f-]{36}$/);
  });
});

// Identity must not depend on how an app writes its response. The same flows (a first visit, a
// login, a logout, a second person signing in) are answered through every way Express, Koa and
// bare node:http let an app write headers: `writeHead` with a header object, with a flat array and
// with a status message, redirects, files, streams and flushed headers. Each case checks what the
// browser receives: exactly one device cookie next to the app's own cookies, `Cache-Control:
// private` wherever an id is issued, and, end to end in the collector, that the second person never
// lands on the first person's device.
import http from 'node:http';
import { createRequire } from 'node:module';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import express from 'express';
import Koa3 from 'koa';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as expressAdapter from '../../adapters/express.js';
import * as koaAdapter from '../../adapters/koa.js';
import { startCollector, type Collector } from '../../src/collector/index.js';
import type { IdstitchError, Tracker, TrackerOptions } from '../../src/index.js';
import { setCookies } from '../support/set-cookies.js';

const require = createRequire(import.meta.url);
const Koa2 = require('koa2') as typeof Koa3;
const express4 = require('express4') as typeof express;

const DEVICE = /^idstitch_device=([0-9a-f-]{36})(\.[A-Za-z0-9_-]{11})?;/;

type Respond = (res: http.ServerResponse) => void;

/** One way of mounting idstitch, and the raw response of a request through it. */
interface Framework {
  readonly name: string;
  /**
   * A server whose routes first run `act` with the adapter's identify/reset, then answer through
   * Node's response exactly as `respond` writes it.
   */
  server(
    options: TrackerOptions,
    routes: Record<string, { act?: 'identify' | 'reset'; respond: Respond }>,
  ): { handler: http.RequestListener; tracker: Tracker };
}

const userOf = (url: string | undefined): string => new URL(url ?? '/', 'http://x').searchParams.get('user') ?? 'user-a';

function expressFramework(name: string, create: typeof express): Framework {
  return {
    name,
    server(options, routes) {
      const middleware = expressAdapter.tracking(options);
      const app = create();
      app.use(middleware);
      for (const [path, route] of Object.entries(routes)) {
        app.all(path, (req, res) => {
          req.track('Route', { path });
          if (route.act === 'identify') expressAdapter.identifyUser(req, userOf(req.url));
          if (route.act === 'reset') expressAdapter.resetUser(req);
          route.respond(res);
        });
      }
      return { handler: app as unknown as http.RequestListener, tracker: middleware.tracker };
    },
  };
}

function koaFramework(name: string, Koa: typeof Koa3): Framework {
  return {
    name,
    server(options, routes) {
      const middleware = koaAdapter.tracking(options);
      const app = new Koa();
      app.silent = true;
      app.use(middleware);
      app.use((ctx) => {
        const route = routes[ctx.path];
        if (route === undefined) return;
        ctx.track('Route', { path: ctx.path });
        if (route.act === 'identify') koaAdapter.identifyUser(ctx, userOf(ctx.url));
        if (route.act === 'reset') koaAdapter.resetUser(ctx);
        ctx.respond = false; // the handler writes Node's response itself
        route.respond(ctx.res);
      });
      const callback = app.callback();
      return { handler: (req, res) => void callback(req, res), tracker: middleware.tracker };
    },
  };
}

const nodeFramework: Framework = {
  name: 'node:http',
  server(options, routes) {
    const middleware = expressAdapter.tracking(options);
    return {
      tracker: middleware.tracker,
      handler: (req, res) => {
        middleware(req, res);
        const path = new URL(req.url ?? '/', 'http://x').pathname;
        const route = routes[path];
        if (route === undefined) return void res.end();
        (req as express.Request).track('Route', { path });
        if (route.act === 'identify') expressAdapter.identifyUser(req, userOf(req.url));
        if (route.act === 'reset') expressAdapter.resetUser(req);
        route.respond(res);
      },
    };
  },
};

const FRAMEWORKS: readonly Framework[] = [
  expressFramework('Express 5', express),
  expressFramework('Express 4', express4),
  koaFramework('Koa 3', Koa3),
  koaFramework('Koa 2', Koa2),
  nodeFramework,
];

/** The routes of the flows, each answered with `writeHead(status, headers)` the way apps write it. */
const WRITE_HEAD_ROUTES: Record<string, { act?: 'identify' | 'reset'; respond: Respond }> = {
  '/cached': { respond: (res) => res.writeHead(200, { 'Cache-Control': 'public, max-age=600', 'Content-Type': 'text/plain' }).end('ok') },
  '/array': {
    respond: (res) =>
      res.writeHead(200, ['Set-Cookie', 'a=1; Path=/', 'Set-Cookie', 'b=2; Path=/', 'Cache-Control', 'public, s-maxage=60']).end('ok'),
  },
  '/reason': { respond: (res) => res.writeHead(200, 'Fine Thanks', { 'Cache-Control': 'public' }).end('ok') },
  '/login': { act: 'identify', respond: (res) => res.writeHead(303, { Location: '/', 'Set-Cookie': 'sid=abc; Path=/; HttpOnly' }).end() },
  '/logout': { act: 'reset', respond: (res) => res.writeHead(302, { Location: '/', 'Set-Cookie': 'sid=; Max-Age=0; Path=/' }).end() },
  '/visit': { respond: (res) => res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok') },
};

/** The one device cookie of a response (fails on two), as `{ id, linked }`. */
function deviceCookie(response: request.Response): { id: string; linked: boolean } | undefined {
  const ours = setCookies(response).filter((line) => line.startsWith('idstitch_device='));
  expect(ours.length, `one device cookie at most, got ${JSON.stringify(ours)}`).toBeLessThanOrEqual(1);
  const match = ours[0] === undefined ? undefined : DEVICE.exec(ours[0]);
  return match ? { id: match[1]!, linked: match[2] !== undefined } : undefined;
}

let collector: Collector;
beforeAll(async () => {
  collector = await startCollector({ port: 0 });
});
afterAll(async () => {
  await collector.close();
});

describe.each(FRAMEWORKS)('$name: writeHead(status, headers) never erases what idstitch adds', (framework) => {
  let server: http.Server;
  let tracker: Tracker;
  let errors: IdstitchError[];

  beforeAll(async () => {
    errors = [];
    const built = framework.server({ apiHost: collector.url, token: 't', onError: (error) => errors.push(error) }, WRITE_HEAD_ROUTES);
    tracker = built.tracker;
    server = http.createServer(built.handler);
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  });
  afterAll(async () => {
    await tracker.shutdown({ timeoutMs: 2000 });
    await new Promise<void>((done) => server.close(() => done()));
  });

  it('a first visit answered with public caching gets a device id and Cache-Control: private, keeping max-age', async () => {
    const response = await request(server).get('/cached');
    expect(response.status).toBe(200);
    expect(deviceCookie(response)).toBeDefined();
    expect(response.headers['cache-control']).toBe('private, max-age=600');
  });

  it('a header list keeps both of its own cookies, adds the device cookie and drops s-maxage', async () => {
    const response = await request(server).get('/array');
    const lines = setCookies(response);
    expect(lines.filter((line) => line.startsWith('a=1') || line.startsWith('b=2'))).toHaveLength(2);
    expect(deviceCookie(response)).toBeDefined();
    expect(response.headers['cache-control']).toBe('private');
  });

  it('a status message is kept', async () => {
    const response = await request(server).get('/reason');
    expect((response as unknown as { res: http.IncomingMessage }).res.statusMessage).toBe('Fine Thanks');
    expect(deviceCookie(response)).toBeDefined();
  });

  it("a logout answered by writeHead(302, { Set-Cookie }) sends a new device id beside the app's cookie", async () => {
    const browser = request.agent(server);
    const first = deviceCookie(await browser.get('/visit'))!;
    const logout = await browser.get('/logout');
    expect(logout.status).toBe(302);
    expect(setCookies(logout).some((line) => line.startsWith('sid=;'))).toBe(true);
    const rotated = deviceCookie(logout);
    expect(rotated?.id).toBeDefined();
    expect(rotated!.id).not.toBe(first.id);
  });

  it('a login answered by writeHead(303, { Set-Cookie }) records the link, so a second person signing in gets a new device and never merges into the first', async () => {
    const before = tracker.stats().identity.switched;
    // One collector serves every framework's run: user ids of their own.
    const [ada, grace] = ['ada', 'grace'].map((name) => `${name}-${framework.name.replace(/\W/g, '')}`) as [string, string];
    const browser = request.agent(server);
    const device = deviceCookie(await browser.get('/visit'))!.id;
    const login = await browser.get(`/login?user=${ada}`);
    expect(setCookies(login).some((line) => line.startsWith('sid=abc'))).toBe(true);
    expect(deviceCookie(login)).toEqual({ id: device, linked: true });

    const second = await browser.get(`/login?user=${grace}`);
    const next = deviceCookie(second)!;
    expect(next.id).not.toBe(device);
    expect(tracker.stats().identity.switched).toBe(before + 1);

    await tracker.flush();
    const first = (await (await fetch(`${collector.url}/api/identity/${device}`)).json()) as { user_id: string; device_ids: string[] };
    expect(first.user_id).toBe(ada);
    expect(first.device_ids).not.toContain(next.id);
    const graceCluster = (await (await fetch(`${collector.url}/api/identity/${grace}`)).json()) as { device_ids: string[] };
    expect(graceCluster.device_ids).toEqual([next.id]);
    expect(errors.map((error) => error.code)).toEqual([]);
  });
});

describe('Express: redirects, files, flushed headers and streams carry the cookie', () => {
  const dir = mkdtempSync(join(tmpdir(), 'idstitch-'));
  writeFileSync(join(dir, 'hello.txt'), 'hello');
  let middleware: expressAdapter.TrackingMiddleware;
  let app: express.Express;

  beforeAll(() => {
    middleware = expressAdapter.tracking({ apiHost: collector.url, token: 't', logger: false });
    app = express();
    app.use(middleware);
    app.get('/logout', (req, res) => {
      expressAdapter.resetUser(req);
      res.redirect('/');
    });
    app.get('/file', (_req, res) => res.sendFile(join(dir, 'hello.txt')));
    app.get('/flushed', (req, res) => {
      res.flushHeaders();
      req.track('After Flush');
      res.end('ok');
    });
    app.get('/stream', (_req, res) => {
      res.write('one ');
      setImmediate(() => res.end('two'));
    });
  });
  afterAll(async () => {
    await middleware.tracker.shutdown({ timeoutMs: 2000 });
  });

  for (const path of ['/file', '/flushed', '/stream']) {
    it(`${path}: a first visit gets its device id and Cache-Control: private`, async () => {
      const response = await request(app).get(path);
      expect(response.status).toBe(200);
      expect(deviceCookie(response)).toBeDefined();
      expect(response.headers['cache-control']).toMatch(/^private/);
    });
  }

  it('res.redirect after resetUser sends the new id', async () => {
    const browser = request.agent(app);
    const first = deviceCookie(await browser.get('/file'))!.id;
    const logout = await browser.get('/logout');
    expect(logout.status).toBe(302);
    expect(deviceCookie(logout)!.id).not.toBe(first);
  });
});

describe.each([
  ['Koa 3', Koa3],
  ['Koa 2', Koa2],
] as const)('%s: every way of responding carries the cookie, error pages included', (_name, Koa) => {
  let middleware: koaAdapter.TrackingMiddleware;
  let app: Koa3;
  let errors: IdstitchError[];

  beforeAll(() => {
    errors = [];
    middleware = koaAdapter.tracking({ apiHost: collector.url, token: 't', onError: (error) => errors.push(error) });
    app = new Koa();
    app.silent = true;
    // The app's own error handler, outside idstitch: it keeps the headers set so far.
    app.use(async (ctx, next) => {
      try {
        await next();
      } catch (error) {
        if (ctx.path === '/login-crashes') throw error; // left to Koa's own onerror
        ctx.status = 500;
        ctx.body = 'sorry';
      }
    });
    app.use(middleware);
    app.use(async (ctx, next) => {
      if (ctx.path === '/login-fails') {
        koaAdapter.identifyUser(ctx, 'ada');
        throw new Error('the session store is down');
      }
      if (ctx.path === '/login-crashes') {
        koaAdapter.identifyUser(ctx, 'ada');
        // Koa's own onerror answers this one, after clearing every header set so far.
        throw new Error('boom');
      }
      if (ctx.path === '/logout') {
        koaAdapter.resetUser(ctx);
        ctx.redirect('/');
        return;
      }
      if (ctx.path === '/stream') {
        ctx.body = Readable.from(['one ', 'two']);
        return;
      }
      if (ctx.path === '/flushed') {
        ctx.flushHeaders();
        ctx.res.end('ok');
        ctx.respond = false;
        return;
      }
      await next();
    });
    app.use((ctx) => {
      ctx.body = 'ok';
    });
  });
  afterAll(async () => {
    await middleware.tracker.shutdown({ timeoutMs: 2000 });
  });

  it("a login whose handler throws into the app's own error middleware still records the link", async () => {
    const browser = request.agent(app.callback());
    const device = deviceCookie(await browser.get('/'))!.id;
    const failed = await browser.get('/login-fails');
    expect(failed.status).toBe(500);
    expect(deviceCookie(failed)).toEqual({ id: device, linked: true });
  });

  it("a login answered by Koa's own onerror records the link too (its page is the response the browser gets)", async () => {
    const browser = request.agent(app.callback());
    const device = deviceCookie(await browser.get('/'))!.id;
    const crashed = await browser.get('/login-crashes');
    expect(crashed.status).toBe(500);
    expect(deviceCookie(crashed)).toEqual({ id: device, linked: true });
  });

  it('ctx.redirect after resetUser, a stream body and flushed headers each carry the device cookie', async () => {
    const browser = request.agent(app.callback());
    const device = deviceCookie(await browser.get('/stream'))!.id;
    expect(deviceCookie(await request(app.callback()).get('/flushed'))).toBeDefined();
    const logout = await browser.get('/logout');
    expect(logout.status).toBe(302);
    expect(deviceCookie(logout)!.id).not.toBe(device);
    expect(errors.map((error) => error.code)).toEqual([]);
  });
});

// A sign-in whose response can no longer carry the cookie (headers already sent): the device is
// linked in Mixpanel the moment the event goes out, but the browser's cookie does not say so. The
// tracker keeps the link for the browser's next request, so the user-switch guard still fires for
// the next person, and that request writes the cookie that records it.
import http from 'node:http';
import express from 'express';
import Koa from 'koa';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { coreOf } from '../../src/adapter.js';
import * as expressAdapter from '../../adapters/express.js';
import * as koaAdapter from '../../adapters/koa.js';
import { startCollector, type Collector } from '../../src/collector/index.js';
import { createTracker, type IdstitchError, type Tracker } from '../../src/index.js';
import { MAX_REMEMBERED_LINKS } from '../../src/link-memory.js';

const DEVICE = /idstitch_device=([0-9a-f-]{36})(\.[A-Za-z0-9_-]{11})?;/;

let collector: Collector;
let tracker: Tracker;
let errors: IdstitchError[];

beforeEach(async () => {
  collector = await startCollector({ port: 0 });
  errors = [];
  tracker = createTracker({ apiHost: collector.url, token: 't', onError: (error) => errors.push(error) });
});
afterEach(async () => {
  await tracker.shutdown({ timeoutMs: 2000 });
  await collector.close();
});

function deviceCookie(response: request.Response): { id: string; linked: boolean } | undefined {
  const lines = ([] as string[]).concat((response.headers['set-cookie'] as string[] | undefined) ?? []);
  const match = lines.map((line) => DEVICE.exec(line)).find((m) => m !== null);
  return match ? { id: match[1]!, linked: match[2] !== undefined } : undefined;
}

const user = (url: string | undefined): string => new URL(url ?? '/', 'http://x').searchParams.get('user') ?? 'ada';

function expressApp(): express.Express {
  const app = express();
  app.use(expressAdapter.tracking(tracker));
  app.get('/visit', (req, res) => {
    req.track('Viewed');
    res.send('ok');
  });
  // A streamed sign-in page: the headers go before the app knows who signed in.
  app.get('/stream-login', (req, res) => {
    res.write('signing in… ');
    expressAdapter.identifyUser(req, user(req.url));
    res.end('done');
  });
  app.get('/login', (req, res) => {
    expressAdapter.identifyUser(req, user(req.url));
    res.send('in');
  });
  return app;
}

function koaApp(): Koa {
  const app = new Koa();
  app.use(koaAdapter.tracking(tracker));
  app.use((ctx) => {
    if (ctx.path === '/stream-login') {
      ctx.respond = false;
      ctx.res.write('signing in… ');
      koaAdapter.identifyUser(ctx, user(ctx.url));
      ctx.res.end('done');
      return;
    }
    if (ctx.path === '/login') koaAdapter.identifyUser(ctx, user(ctx.url));
    else ctx.track('Viewed');
    ctx.body = 'ok';
  });
  return app;
}

describe.each([
  ['Express', () => expressApp() as unknown as http.RequestListener],
  ['Koa', () => koaApp().callback()],
] as const)('%s: a link made after the headers were sent', (_name, makeApp) => {
  it('is reported as IDSTITCH_HEADERS_SENT and counted; the next person on that browser still gets a new device', async () => {
    const browser = request.agent(makeApp());
    const device = deviceCookie(await browser.get('/visit'))!.id;
    const streamed = await browser.get('/stream-login?user=ada');
    expect(streamed.text).toBe('signing in… done');
    expect(deviceCookie(streamed)).toBeUndefined();
    expect(errors.map((error) => error.code)).toEqual(['IDSTITCH_HEADERS_SENT']);
    expect(tracker.stats().identity).toMatchObject({ linksNotRecorded: 1, switched: 0 });

    const grace = await browser.get('/login?user=grace');
    const graceDevice = deviceCookie(grace)!;
    expect(graceDevice.id).not.toBe(device);
    expect(tracker.stats().identity.switched).toBe(1);

    await tracker.flush();
    const ada = (await (await fetch(`${collector.url}/api/identity/ada`)).json()) as { device_ids: string[] };
    const graceCluster = (await (await fetch(`${collector.url}/api/identity/grace`)).json()) as { device_ids: string[] };
    expect(ada.device_ids).toEqual([device]);
    expect(graceCluster.device_ids).toEqual([graceDevice.id]);
  });

  it("records the link on the browser's next response, after which the tracker forgets it", async () => {
    const browser = request.agent(makeApp());
    const device = deviceCookie(await browser.get('/visit'))!.id;
    await browser.get('/stream-login?user=ada');
    expect(coreOf(tracker).links.size).toBe(1);
    const next = await browser.get('/visit');
    expect(deviceCookie(next)).toEqual({ id: device, linked: true });
    expect(coreOf(tracker).links.size).toBe(0);
    // The same person signing in again keeps the device.
    const again = await browser.get('/login?user=ada');
    expect(deviceCookie(again)).toBeUndefined();
    expect(tracker.stats().identity.switched).toBe(0);
  });
});

describe('the links a tracker keeps', () => {
  it(`are one per browser, bounded (${MAX_REMEMBERED_LINKS.toLocaleString('en')} by default), the oldest forgotten first`, async () => {
    const app = expressApp();
    for (let i = 0; i < 3; i++) {
      const browser = request.agent(app);
      await browser.get('/visit');
      await browser.get(`/stream-login?user=u${i}`);
    }
    expect(coreOf(tracker).links.size).toBe(3);
    // The bound itself, through the module that owns it.
    const { LinkMemory } = await import('../../src/link-memory.js');
    const memory = new LinkMemory(2);
    expect([memory.remember('d1', 't1'), memory.remember('d2', 't2'), memory.remember('d3', 't3')]).toEqual([true, true, false]);
    expect([memory.recall('d1'), memory.recall('d2'), memory.recall('d3')]).toEqual([undefined, 't2', 't3']);
  });
});

// idstitch/nest through real Nest apps on both platforms. The decorators a Nest app writes with
// `@` syntax are applied here as functions (the same calls TypeScript would emit), so the test
// needs no decorator transform.
import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { Controller, Get, Module, Post, Req } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IdstitchModule, Tracker, Tracking, type RequestTracking } from '../adapters/nest.js';
import { createTracker, type IdstitchError, type TrackerOptions } from '../src/index.js';
import { startIngestStub, type IngestStub } from './support/ingest-stub.js';
import { deviceCookieOf, setCookies } from './support/set-cookies.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let stub: IngestStub;
let errors: IdstitchError[];
let app: INestApplication | undefined;

beforeEach(async () => {
  stub = await startIngestStub();
  errors = [];
});

afterEach(async () => {
  await app?.close();
  app = undefined;
  await stub.close();
});

/** `@Method(path)` and `@Tracking()` on parameter 0 of `name`, as TypeScript applies them. */
function route(target: object, name: string, method: typeof Get, path: string, parameter = Tracking()): void {
  parameter(target, name, 0);
  const descriptor = Object.getOwnPropertyDescriptor(target, name)!;
  method(path)(target, name, descriptor);
}

/** The guide's app: tracked pricing page, login, logout, and a page that says who the request is. */
class AppController {
  pricing(tracking: RequestTracking) {
    tracking.track('Viewed Pricing', { plan: 'pro' });
    return 'ok';
  }

  login(tracking: RequestTracking) {
    tracking.identify('u1');
    tracking.track('Logged In');
    return 'in';
  }

  logout(tracking: RequestTracking) {
    tracking.track('Logged Out');
    tracking.reset();
    return 'out';
  }

  whoami(tracking: RequestTracking) {
    return { deviceId: tracking.deviceId, userId: tracking.userId };
  }

  guarded(tracking: RequestTracking, req: { user?: unknown }) {
    req.user = { sub: 'auth0|7' }; // what an @nestjs/passport guard leaves on the platform's request
    tracking.track('Viewed Account');
    return 'ok';
  }
}
route(AppController.prototype, 'pricing', Get, 'pricing');
route(AppController.prototype, 'login', Post, 'login');
route(AppController.prototype, 'logout', Post, 'logout');
route(AppController.prototype, 'whoami', Get, 'whoami');
Req()(AppController.prototype, 'guarded', 1);
route(AppController.prototype, 'guarded', Get, 'account');
Controller()(AppController);

const PLATFORMS = [
  ['Express', () => new ExpressAdapter()],
  ['Fastify', () => new FastifyAdapter()],
] as const;

async function start(platform: () => ExpressAdapter | FastifyAdapter, imports: unknown[]): Promise<INestApplication> {
  class AppModule {}
  Module({ imports: imports as never, controllers: [AppController] })(AppModule);
  // abortOnError: false, so a bad option rejects here instead of exiting the process.
  app = await NestFactory.create(AppModule, platform() as never, { logger: false, abortOnError: false });
  await app.init();
  // Fastify serves once ready; supertest then drives its Node server.
  if (app.getHttpAdapter().getType() === 'fastify') await (app.getHttpAdapter().getInstance() as { ready(): Promise<void> }).ready();
  return app;
}

const options = (): TrackerOptions => ({ apiHost: stub.url, token: 'test-token', onError: (error) => errors.push(error) });

describe.each(PLATFORMS)('NestJS on %s', (_name, platform) => {
  it('issues a device id on the first visit and tracks with it, distinct_id empty', async () => {
    const nest = await start(platform, [IdstitchModule.forRoot(options())]);
    const response = await request(nest.getHttpServer()).get('/pricing').expect(200);
    const deviceId = deviceCookieOf(response);
    expect(deviceId).toMatch(UUID_V4);
    expect(response.headers['cache-control']).toBe('private');
    await nest.get(Tracker).flush();
    expect(stub.events()).toMatchObject([{ event: 'Viewed Pricing', properties: { distinct_id: '', $device_id: deviceId, plan: 'pro' } }]);
  });

  it('links on login, rotates on logout, and gives every route (a 404 too) the cookie', async () => {
    const nest = await start(platform, [IdstitchModule.forRoot(options())]);
    const browser = request.agent(nest.getHttpServer());
    const first = deviceCookieOf(await browser.get('/pricing'));
    await browser.post('/login').expect(201);
    expect((await browser.get('/whoami')).body).toEqual({ deviceId: first });
    const logout = await browser.post('/logout').expect(201);
    const rotated = deviceCookieOf(logout);
    expect(rotated).toMatch(UUID_V4);
    expect(rotated).not.toBe(first);
    await nest.get(Tracker).flush();
    expect(stub.events().map((e) => [e.event, e.properties.$device_id, e.properties.$user_id])).toEqual([
      ['Viewed Pricing', first, undefined],
      ['User Identified', first, 'u1'],
      ['Logged In', first, 'u1'],
      ['Logged Out', first, undefined],
    ]);
    const missing = await request(nest.getHttpServer()).get('/nowhere').expect(404);
    expect(setCookies(missing).some((line) => line.startsWith('idstitch_device='))).toBe(true);
    expect(errors).toEqual([]);
  });

  it("reads the user from the platform's request (req.user.sub, as @nestjs/passport leaves it)", async () => {
    const nest = await start(platform, [IdstitchModule.forRoot(options())]);
    await request(nest.getHttpServer()).get('/account').expect(200);
    await nest.get(Tracker).flush();
    expect(stub.events()).toMatchObject([{ event: 'Viewed Account', properties: { $user_id: 'auth0|7' } }]);
  });

  it('takes its options from forRootAsync, and app.close() delivers what is queued', async () => {
    const nest = await start(platform, [IdstitchModule.forRootAsync({ useFactory: async () => options() })]);
    await request(nest.getHttpServer()).get('/pricing').expect(200);
    const tracker = nest.get(Tracker);
    await nest.close();
    app = undefined;
    expect(stub.events().map((e) => e.event)).toEqual(['Viewed Pricing']);
    tracker.track('Late', {}, { deviceId: crypto.randomUUID() });
    expect(tracker.stats().dropped.tracker_closed).toBe(1);
  });

  it('shares a Tracker passed to forRoot, and leaves it running after app.close()', async () => {
    const tracker = createTracker({ apiHost: stub.url, logger: false });
    try {
      const nest = await start(platform, [IdstitchModule.forRoot(tracker)]);
      expect(nest.get(Tracker)).toBe(tracker);
      await request(nest.getHttpServer()).get('/pricing').expect(200);
      await nest.close();
      app = undefined;
      expect(stub.events()).toHaveLength(1);
      tracker.track('Still Open', {}, { deviceId: crypto.randomUUID() });
      await tracker.flush();
      expect(stub.events()).toHaveLength(2);
    } finally {
      await tracker.shutdown();
    }
  });
});

describe('NestJS: setup errors', () => {
  it('warns once, and tracks nothing, where IdstitchModule was not imported', async () => {
    // Captured, not printed: the warning is the behaviour under test.
    const emitted = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const nest = await start(PLATFORMS[0][1], []);
      await request(nest.getHttpServer()).get('/pricing').expect(200);
      expect(emitted).toHaveBeenCalledWith(expect.stringMatching(/^@Tracking\(\) track ran on a request the idstitch/), {
        code: 'IDSTITCH_NOT_MOUNTED',
      });
    } finally {
      emitted.mockRestore();
    }
  });

  it('fails at startup on a typo in an option, naming it', async () => {
    await expect(start(PLATFORMS[0][1], [IdstitchModule.forRoot({ tokn: 'x' } as TrackerOptions)])).rejects.toThrow(
      /`tokn` is not an option; did you mean `token`/,
    );
    app = undefined;
  });
});

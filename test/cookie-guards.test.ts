// The device cookie's two guards, through Express over real HTTP: a signed value (cookie.secret)
// that a forged or edited cookie cannot pass, and the remembered user tag that gives a browser a new
// device when another user signs in without a logout (guardUserSwitch).
import express, { type Express, type Request } from 'express';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { identifyUser, identityOf, resetUser, tracking, type TrackingMiddleware } from '../adapters/express.js';
import { withDeviceId } from '../adapters/next/proxy.js';
import { createSigner } from '../src/signing.js';
import { ConfigError, type IdstitchError, type TrackerOptions } from '../src/index.js';
import { startIngestStub, type IngestStub } from './support/ingest-stub.js';

const SECRET = 'a-long-random-secret-from-the-vault';
const OLD_SECRET = 'the-previous-secret-being-retired';
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}';

let stub: IngestStub;
let errors: IdstitchError[];
const middlewares: TrackingMiddleware[] = [];

beforeEach(async () => {
  stub = await startIngestStub();
  errors = [];
});

afterEach(async () => {
  await Promise.all(middlewares.splice(0).map((m) => m.tracker.shutdown({ timeoutMs: 2000 })));
  await stub.close();
});

/** An app where POST /login?user=… signs in (identifyUser) and POST /logout resets; each answers the identity. */
function app(options: TrackerOptions = {}): { app: Express; middleware: TrackingMiddleware } {
  const middleware = tracking({ apiHost: stub.url, token: 'guards', onError: (error) => errors.push(error), ...options });
  middlewares.push(middleware);
  const server = express();
  server.use(middleware);
  server.get('/', (req, res) => {
    req.track('Viewed Home');
    res.json(identityOf(req));
  });
  server.post('/login', (req: Request, res) => {
    identifyUser(req, String(req.query.user));
    res.json(identityOf(req));
  });
  server.post('/logout', (req, res) => {
    resetUser(req);
    res.json(identityOf(req));
  });
  return { app: server, middleware };
}

/** Our cookie's value in a response, or undefined. */
function cookieValue(response: request.Response): string | undefined {
  const lines = ([] as string[]).concat(response.headers['set-cookie'] ?? []).filter((line) => line.startsWith('idstitch_device='));
  expect(lines.length).toBeLessThanOrEqual(1);
  return lines[0]?.split(';')[0]!.slice('idstitch_device='.length);
}

describe('cookie.secret: a signed device cookie', () => {
  it('issues <id>.<43-character signature> and keeps a valid one on later visits', async () => {
    const { app: server } = app({ cookie: { secret: SECRET } });
    const browser = request.agent(server);
    const first = await browser.get('/');
    const value = cookieValue(first)!;
    expect(value).toMatch(new RegExp(`^${UUID}\\.[A-Za-z0-9_-]{43}$`));
    expect(value.startsWith((first.body as { deviceId: string }).deviceId)).toBe(true);
    const second = await browser.get('/');
    expect(cookieValue(second)).toBeUndefined();
    expect((second.body as { deviceId: string }).deviceId).toBe((first.body as { deviceId: string }).deviceId);
  });

  it('treats a forged, edited or unsigned value as absent: a new id, counted as invalid, never echoed', async () => {
    const { app: server, middleware } = app({ cookie: { secret: SECRET } });
    const genuine = cookieValue(await request(server).get('/'))!;
    const [id, signature] = genuine.split('.') as [string, string];
    const otherId = id.replace(/^./, id[0] === 'a' ? 'b' : 'a');
    const forgeries = [
      id, // unsigned
      `${otherId}.${signature}`, // another id under a real signature
      `${id}.${signature.slice(0, -1)}${signature.endsWith('A') ? 'B' : 'A'}`, // one character changed
      createSigner('an-attackers-own-secret-value').sign(id), // signed with another secret
      `${id}.${signature}.extra`,
    ];
    for (const forged of forgeries) {
      const response = await request(server).get('/').set('Cookie', `idstitch_device=${forged}`);
      const issued = cookieValue(response)!;
      expect(issued, forged).toMatch(new RegExp(`^${UUID}\\.[A-Za-z0-9_-]{43}$`));
      expect(issued).not.toBe(forged);
      expect((response.body as { deviceId: string }).deviceId).not.toBe(otherId);
    }
    expect(middleware.tracker.stats().identity.invalidCookies).toBe(forgeries.length);
  });

  it('rotates secrets: the first signs, every one verifies, and a dropped secret no longer does', async () => {
    const before = app({ cookie: { secret: OLD_SECRET } });
    const oldValue = cookieValue(await request(before.app).get('/'))!;
    const oldId = oldValue.split('.')[0];

    const rotating = app({ cookie: { secret: [SECRET, OLD_SECRET] } });
    const kept = await request(rotating.app).get('/').set('Cookie', `idstitch_device=${oldValue}`);
    expect((kept.body as { deviceId: string }).deviceId).toBe(oldId);
    const fresh = cookieValue(await request(rotating.app).get('/'))!;
    expect(createSigner(SECRET).unsign(fresh)).toBeDefined();

    const after = app({ cookie: { secret: SECRET } });
    const replaced = await request(after.app).get('/').set('Cookie', `idstitch_device=${oldValue}`);
    expect((replaced.body as { deviceId: string }).deviceId).not.toBe(oldId);
  });

  it('refuses a short secret at construction, and the message never contains it', () => {
    const attempt = (): unknown => tracking({ apiHost: stub.url, cookie: { secret: 'tooshort-secret' } });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/cookie\.secret/);
    expect(attempt).not.toThrow(/tooshort-secret/);
  });

  it('a __Host- cookie: Secure, Path=/, no Domain, signed; a Domain with it is refused at construction', async () => {
    const { app: server } = app({ cookie: { name: '__Host-idstitch', secret: SECRET } });
    server.set('trust proxy', true);
    const response = await request(server).get('/').set('X-Forwarded-Proto', 'https');
    const line = ([] as string[]).concat(response.headers['set-cookie'] ?? [])[0]!;
    expect(line).toMatch(
      new RegExp(`^__Host-idstitch=${UUID}\\.[A-Za-z0-9_-]{43}; Max-Age=34560000; Path=/; HttpOnly; Secure; SameSite=Lax$`),
    );
    expect(() => tracking({ apiHost: stub.url, cookie: { name: '__Host-idstitch', domain: 'example.com' } })).toThrow(/__Host-/);
  });

  it('agrees with the Next proxy: a value the proxy signed (Web Crypto) verifies in the tracker, and a forged one is re-issued by the proxy', async () => {
    const proxy = withDeviceId({ cookie: { secret: SECRET } });
    const { NextRequest } = await import('next/server.js');
    const issued = await proxy(new NextRequest('http://example.test/'), {} as never);
    const line = issued!.headers.getSetCookie()[0]!;
    const value = line.split(';')[0]!.slice('idstitch_device='.length);
    expect(createSigner(SECRET).unsign(value)).toMatch(new RegExp(`^${UUID}$`));

    const { app: server } = app({ cookie: { secret: SECRET } });
    const response = await request(server).get('/').set('Cookie', `idstitch_device=${value}`);
    expect((response.body as { deviceId: string }).deviceId).toBe(value.split('.')[0]);

    const kept = await proxy(new NextRequest('http://example.test/', { headers: { cookie: `idstitch_device=${value}` } }), {} as never);
    expect(kept?.headers.getSetCookie() ?? []).toEqual([]);
    const forged = await proxy(
      new NextRequest('http://example.test/', { headers: { cookie: `idstitch_device=${value.split('.')[0]}` } }),
      {} as never,
    );
    expect(forged!.headers.getSetCookie()[0]).toMatch(new RegExp(`^idstitch_device=${UUID}\\.[A-Za-z0-9_-]{43};`));
  });
});

describe('guardUserSwitch: another user signing in without a logout', () => {
  it('remembers the first user as a tag in the cookie, then gives the next user a new device', async () => {
    const { app: server, middleware } = app();
    const browser = request.agent(server);
    const anonymous = (await browser.get('/')).body as { deviceId: string };
    // A user id that cannot turn up by chance in a UUID or an 11-character tag.
    const ada = await browser.post('/login').query({ user: 'ada-lovelace-1815' });
    expect((ada.body as { deviceId: string }).deviceId).toBe(anonymous.deviceId);
    const tagged = cookieValue(ada)!;
    expect(tagged).toMatch(new RegExp(`^${anonymous.deviceId}\\.[A-Za-z0-9_-]{11}$`));
    expect(tagged).not.toContain('ada-lovelace-1815');

    const grace = await browser.post('/login').query({ user: 'grace' });
    const graceDevice = (grace.body as { deviceId: string }).deviceId;
    expect(graceDevice).not.toBe(anonymous.deviceId);
    expect(cookieValue(grace)).toMatch(new RegExp(`^${graceDevice}\\.[A-Za-z0-9_-]{11}$`));
    expect(middleware.tracker.stats().identity).toMatchObject({ switched: 1, rotated: 0 });

    await middleware.tracker.flush();
    const links = stub
      .events()
      .filter((e) => e.event === 'User Identified')
      .map((e) => [e.properties.$user_id, e.properties.$device_id]);
    expect(links).toEqual([
      ['ada-lovelace-1815', anonymous.deviceId],
      ['grace', graceDevice],
    ]);
  });

  it('keeps the device when the same user signs in again, on another instance with the same configuration', async () => {
    const first = app();
    const ada = await request(first.app).post('/login').query({ user: 'ada' });
    const value = cookieValue(ada)!;

    const second = app(); // another process: same token, nothing shared in memory
    const again = await request(second.app).post('/login').query({ user: 'ada' }).set('Cookie', `idstitch_device=${value}`);
    expect((again.body as { deviceId: string }).deviceId).toBe((ada.body as { deviceId: string }).deviceId);
    expect(cookieValue(again), 'nothing to rewrite').toBeUndefined();
    expect(second.middleware.tracker.stats().identity.switched).toBe(0);
  });

  it('after a logout there is no switch: the reset already gave a fresh device', async () => {
    const { app: server, middleware } = app();
    const browser = request.agent(server);
    await browser.post('/login').query({ user: 'ada' });
    const out = (await browser.post('/logout')).body as { deviceId: string };
    const grace = (await browser.post('/login').query({ user: 'grace' })).body as { deviceId: string };
    expect(grace.deviceId).toBe(out.deviceId);
    expect(middleware.tracker.stats().identity).toMatchObject({ switched: 0, rotated: 1 });
  });

  it('signed and tagged: <id>.<tag>.<signature>, and an edited tag makes the whole cookie invalid', async () => {
    const { app: server, middleware } = app({ cookie: { secret: SECRET } });
    const ada = await request(server).post('/login').query({ user: 'ada' });
    const value = cookieValue(ada)!;
    expect(value).toMatch(new RegExp(`^${UUID}\\.[A-Za-z0-9_-]{11}\\.[A-Za-z0-9_-]{43}$`));
    const [id, tag, signature] = value.split('.') as [string, string, string];
    const edited = `${id}.${tag.replace(/^./, tag[0] === 'A' ? 'B' : 'A')}.${signature}`;
    const response = await request(server).get('/').set('Cookie', `idstitch_device=${edited}`);
    expect((response.body as { deviceId: string }).deviceId).not.toBe(id);
    expect(middleware.tracker.stats().identity.invalidCookies).toBe(1);
  });

  it('guardUserSwitch: false keeps the plain cookie and the device across users, as before', async () => {
    const { app: server, middleware } = app({ guardUserSwitch: false });
    const browser = request.agent(server);
    const ada = await browser.post('/login').query({ user: 'ada' });
    expect(cookieValue(ada)).toMatch(new RegExp(`^${UUID}$`));
    const grace = (await browser.post('/login').query({ user: 'grace' })).body as { deviceId: string };
    expect(grace.deviceId).toBe((ada.body as { deviceId: string }).deviceId);
    expect(middleware.tracker.stats().identity.switched).toBe(0);
  });

  it('refuses a non-boolean guardUserSwitch at construction', () => {
    expect(() => tracking({ apiHost: stub.url, guardUserSwitch: 'yes' as unknown as boolean })).toThrow(/guardUserSwitch/);
  });
});

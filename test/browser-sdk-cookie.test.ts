// deviceIdFrom: 'mixpanel-browser': the device id read from the browser SDK's cookie, its
// accepted shapes, hostile cookie values, the option's validation, and what the Express middleware does
// with it (no cookie of its own, reset and the user-switch guard). The real SDK in Chromium is
// test/hybrid.browser.test.ts.
import express, { type Express, type Request } from 'express';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { identifyUser, identityOf, resetUser, tracking, type TrackingMiddleware } from '../adapters/express.js';
import {
  isBrowserSdkDeviceId,
  MAX_BROWSER_SDK_COOKIE_CHARS,
  normalizeDeviceIdSource,
  readBrowserSdkCookie,
  type BrowserSdkCookie,
} from '../src/browser-sdk-cookie.js';
import { ConfigError } from '../src/errors.js';
import { normalizeOptions } from '../src/config.js';
import type { IdstitchError, TrackerOptions } from '../src/index.js';
import { startIngestStub, type IngestStub } from './support/ingest-stub.js';

const TOKEN = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const SDK: BrowserSdkCookie = { name: `mp_${TOKEN}_mixpanel`, prefix: `mp_${TOKEN}_mixpanel=` };
const DEVICE = '69ccccd7-f799-4b69-8647-8c68fb5b11e0';
const OTHER_DEVICE = '0f4b3c2a-1d5e-4f60-9a7b-8c9d0e1f2a3b';
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * The value mixpanel-browser 2.83.0 wrote in headless Chromium on a first visit (persistence
 * 'cookie', its default): URL-encoded JSON with the device id twice and its own bookkeeping keys.
 */
const RECORDED =
  '%7B%22distinct_id%22%3A%22%24device%3A69ccccd7-f799-4b69-8647-8c68fb5b11e0%22%2C%22%24device_id%22%3A%2269ccccd7-f799-4b69-8647-8c68fb5b11e0%22%2C%22%24initial_referrer%22%3A%22%24direct%22%2C%22%24initial_referring_domain%22%3A%22%24direct%22%2C%22__mps%22%3A%7B%7D%2C%22__mpso%22%3A%7B%22%24initial_referrer%22%3A%22%24direct%22%2C%22%24initial_referring_domain%22%3A%22%24direct%22%7D%2C%22__mpus%22%3A%7B%7D%2C%22__mpa%22%3A%7B%7D%2C%22__mpu%22%3A%7B%7D%2C%22__mpr%22%3A%5B%5D%2C%22__mpap%22%3A%5B%5D%7D';

/** A cookie value as the SDK encodes its properties. */
const encoded = (props: unknown): string => encodeURIComponent(JSON.stringify(props));
const read = (header: string | undefined) => readBrowserSdkCookie(header, SDK);

describe('isBrowserSdkDeviceId: the shapes mixpanel-browser generates', () => {
  it('accepts the lower-case UUID v4 of 2.62.0 and later', () => {
    expect(isBrowserSdkDeviceId(DEVICE)).toBe(true);
    expect(isBrowserSdkDeviceId(globalThis.crypto.randomUUID())).toBe(true);
  });

  it('accepts the five-part hex id of earlier versions, whose cookies are still renewed', () => {
    expect(isBrowserSdkDeviceId('18e6f3a4b2c1a5-0f8c1b2a3d4e5f8-26011d51-1fa400-18e6f3a4b2c1a6')).toBe(true);
    // The user-agent part is a signed 32-bit number: a negative one puts a second '-' before it.
    expect(isBrowserSdkDeviceId('18e6f3a4b2c1a5-0f8c1b2a3d4e5f8--5f3e2a1-1fa400-18e6f3a4b2c1a6')).toBe(true);
    // Built to the same recipe here: timestamp+ticks, a random fraction, a hash, the screen size, timestamp+ticks.
    for (let i = 0; i < 50; i++) {
      const t = Date.now().toString(16) + i.toString(16);
      const r = Math.random().toString(16).replace('.', '');
      const ua = ((Math.random() * 2 ** 32) | 0).toString(16);
      expect(isBrowserSdkDeviceId(`${t}-${r}-${ua}-${(1920 * 1080).toString(16)}-${t}`)).toBe(true);
    }
  });

  it('refuses user ids, placeholders, other UUIDs, markup and anything unbounded', () => {
    for (const value of [
      '',
      'user-42',
      'ada@example.com',
      `$device:${DEVICE}`,
      DEVICE.toUpperCase(),
      'c232ab00-9414-11ec-b3c8-9f6bdeced846', // v1
      '00000000-0000-0000-0000-000000000000',
      `${DEVICE} `,
      `${DEVICE}\n`,
      `${DEVICE}\u0000`,
      '<script>alert(1)</script>',
      'a'.repeat(256),
      `${'f'.repeat(24)}-${'f'.repeat(32)}-${'f'.repeat(8)}-${'f'.repeat(12)}-${'f'.repeat(25)}`,
      '18e6f3a4b2c1a5-0f8c1b2a3d4e5f8-26011d51-1fa400', // four parts
      '18E6F3A4B2C1A5-0F8C1B2A3D4E5F8-26011D51-1FA400-18E6F3A4B2C1A6',
    ]) {
      expect(isBrowserSdkDeviceId(value), JSON.stringify(value)).toBe(false);
    }
    for (const value of [undefined, null, 42, ['x'], { id: DEVICE }]) expect(isBrowserSdkDeviceId(value)).toBe(false);
  });
});

describe('readBrowserSdkCookie', () => {
  it('reads $device_id from the value mixpanel-browser wrote', () => {
    expect(read(`${SDK.prefix}${RECORDED}`)).toEqual({ deviceId: DEVICE, invalid: false });
    expect(read(`session=abc; ${SDK.prefix}${RECORDED}; theme=dark`)).toEqual({ deviceId: DEVICE, invalid: false });
  });

  it('reads the device id, not the user, after identify() made distinct_id the user id', () => {
    const value = encoded({ distinct_id: 'user-42', $device_id: DEVICE, $user_id: 'user-42', __mps: {} });
    expect(read(`${SDK.prefix}${value}`).deviceId).toBe(DEVICE);
  });

  it('finds nothing without the cookie, for another token, or inside another cookie', () => {
    const absent = { deviceId: undefined, invalid: false };
    expect(read(undefined)).toEqual(absent);
    expect(read('')).toEqual(absent);
    expect(readBrowserSdkCookie(`${SDK.prefix}${RECORDED}`, undefined)).toEqual(absent); // option off
    expect(read(`mp_0ther0ken_mixpanel=${RECORDED}`)).toEqual(absent);
    expect(read(`x${SDK.prefix}${RECORDED}`)).toEqual(absent);
    expect(read(`note=${SDK.prefix}${RECORDED}`)).toEqual(absent);
    expect(read(`mp_${TOKEN}_mixpanel_other=${RECORDED}`)).toEqual(absent);
  });

  it('takes the first of two same-name cookies, as the SDK itself does', () => {
    const header = `${SDK.prefix}${encoded({ $device_id: DEVICE })}; ${SDK.prefix}${encoded({ $device_id: OTHER_DEVICE })}`;
    expect(read(header).deviceId).toBe(DEVICE);
    // A broken first one is what the page reads too: idstitch falls back to its own cookie instead of guessing.
    expect(read(`${SDK.prefix}%7Bbroken; ${SDK.prefix}${encoded({ $device_id: OTHER_DEVICE })}`)).toEqual({
      deviceId: undefined,
      invalid: true,
    });
  });

  it('counts as invalid, and trusts nothing from, values that are not the SDK’s JSON', () => {
    for (const value of [
      '',
      '%7Bbroken',
      '%E0%A4%A', // not decodable
      encodeURIComponent('"a string"'),
      encoded(null),
      encoded([DEVICE]),
      encoded(42),
      `"${encoded({ $device_id: DEVICE })}"`, // quoted: the SDK's reader keeps quotes, and JSON.parse fails on them
      encoded({ distinct_id: `$device:${DEVICE}` }), // no $device_id
      encoded({ $device_id: 'user-42' }), // an old identify() could leave a user id there
      encoded({ $device_id: DEVICE.toUpperCase() }),
      encoded({ $device_id: 42 }),
      encoded({ $device_id: [DEVICE] }),
      encoded({ $device_id: { toString: DEVICE } }),
      encoded({ $device_id: `${DEVICE}\r\nSet-Cookie: evil=1` }),
    ]) {
      expect(read(`${SDK.prefix}${value}`), value).toEqual({ deviceId: undefined, invalid: true });
    }
  });

  it(`refuses values over ${MAX_BROWSER_SDK_COOKIE_CHARS} characters without parsing them, a valid id inside or not`, () => {
    const padding = 'x'.repeat(MAX_BROWSER_SDK_COOKIE_CHARS);
    expect(read(`${SDK.prefix}${encoded({ $device_id: DEVICE, pad: padding })}`)).toEqual({ deviceId: undefined, invalid: true });
    const atLimit = encoded({ $device_id: DEVICE, pad: '' });
    const fill = 'y'.repeat(MAX_BROWSER_SDK_COOKIE_CHARS - atLimit.length);
    expect(read(`${SDK.prefix}${encoded({ $device_id: DEVICE, pad: fill })}`).deviceId).toBe(DEVICE);
  });

  it('reads only an own $device_id: __proto__, constructor and prototype keys neither supply one nor pollute', () => {
    expect(read(`${SDK.prefix}${encodeURIComponent(`{"__proto__":{"$device_id":"${DEVICE}"}}`)}`)).toEqual({
      deviceId: undefined,
      invalid: true,
    });
    expect(read(`${SDK.prefix}${encodeURIComponent(`{"constructor":{"prototype":{"$device_id":"${DEVICE}"}}}`)}`).invalid).toBe(true);
    const value = encodeURIComponent(
      `{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"$device_id":"${DEVICE}"}`,
    );
    expect(read(`${SDK.prefix}${value}`).deviceId).toBe(DEVICE);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('takes the last of duplicate keys, as the SDK’s JSON.parse does', () => {
    const value = encodeURIComponent(`{"$device_id":"user-42","$device_id":"${DEVICE}"}`);
    expect(read(`${SDK.prefix}${value}`).deviceId).toBe(DEVICE);
  });
});

describe('the deviceIdFrom option', () => {
  const configError = (options: TrackerOptions): ConfigError => {
    try {
      normalizeOptions(options, {});
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).code).toBe('IDSTITCH_INVALID_OPTION');
      return error as ConfigError;
    }
    throw new Error('expected a ConfigError');
  };

  it("is off by default and with 'idstitch'", () => {
    expect(normalizeOptions({ token: TOKEN }, {}).browserSdkCookie).toBeUndefined();
    expect(normalizeOptions({ token: TOKEN, deviceIdFrom: 'idstitch' }, {}).browserSdkCookie).toBeUndefined();
  });

  it("reads mp_<token>_mixpanel for 'mixpanel-browser', and mp_<persistenceName> when the SDK was given one", () => {
    expect(normalizeOptions({ token: TOKEN, deviceIdFrom: 'mixpanel-browser' }, {}).browserSdkCookie).toEqual(SDK);
    expect(normalizeOptions({ deviceIdFrom: 'mixpanel-browser' }, { MIXPANEL_TOKEN: TOKEN }).browserSdkCookie).toEqual(SDK);
    expect(normalizeOptions({ token: TOKEN, deviceIdFrom: { mixpanelBrowser: {} } }, {}).browserSdkCookie).toEqual(SDK);
    expect(
      normalizeOptions({ apiHost: 'http://127.0.0.1:1', deviceIdFrom: { mixpanelBrowser: { persistenceName: 'site' } } }, {})
        .browserSdkCookie,
    ).toEqual({ name: 'mp_site', prefix: 'mp_site=' });
  });

  it('names what is wrong, and never echoes the token', () => {
    expect(configError({ apiHost: 'http://127.0.0.1:1', deviceIdFrom: 'mixpanel-browser' }).option).toBe('deviceIdFrom');
    expect(configError({ token: TOKEN, deviceIdFrom: 'mixpanel' as never }).option).toBe('deviceIdFrom');
    expect(configError({ token: TOKEN, deviceIdFrom: true as never }).option).toBe('deviceIdFrom');
    expect(configError({ token: TOKEN, deviceIdFrom: { mixpanelBrowser: { persistance_name: 'x' } } as never }).option).toBe(
      'deviceIdFrom.mixpanelBrowser.persistance_name',
    );
    expect(configError({ token: TOKEN, deviceIdFrom: { mixpanelBrowser: { persistenceName: '' } } }).option).toBe(
      'deviceIdFrom.mixpanelBrowser.persistenceName',
    );
    expect(configError({ token: TOKEN, deviceIdFrom: { mixpanelBrowser: { persistenceName: 'a;b' } } }).option).toBe('deviceIdFrom');
    expect(configError({ token: TOKEN, deviceIdFrom: { mixpanelBrowser: {}, other: 1 } as never }).option).toBe('deviceIdFrom');
    const badToken = configError({ token: 'secret token;x', deviceIdFrom: 'mixpanel-browser' });
    expect(badToken.message).not.toContain('secret token');
    expect(configError({ token: TOKEN, deviceIdForm: 'mixpanel-browser' } as never).message).toContain('deviceIdFrom');
  });

  it('leaves the caller’s options object as it was', () => {
    const options = Object.freeze({
      token: TOKEN,
      deviceIdFrom: Object.freeze({ mixpanelBrowser: Object.freeze({ persistenceName: 'site' }) }),
    });
    expect(normalizeDeviceIdSource(options.deviceIdFrom, TOKEN)).toEqual({ name: 'mp_site', prefix: 'mp_site=' });
  });
});

describe('Express with deviceIdFrom: mixpanel-browser', () => {
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

  function appWith(options: TrackerOptions = {}): Express {
    middleware = tracking({
      apiHost: stub.url,
      token: TOKEN,
      deviceIdFrom: 'mixpanel-browser',
      getUserId: (req: Request) => req.get('x-user'),
      onError: (error) => errors.push(error),
      ...options,
    });
    const app = express();
    app.use(middleware);
    app.get('/', (req, res) => {
      req.track('Viewed Home');
      res.json(identityOf(req));
    });
    app.post('/login', (req, res) => {
      identifyUser(req, req.get('x-login'));
      req.track('Logged In');
      res.json(identityOf(req));
    });
    app.post('/logout', (req, res) => {
      req.track('Logged Out');
      resetUser(req);
      req.track('After Logout');
      res.json(identityOf(req));
    });
    return app;
  }

  const sdkCookie = (deviceId: string, extra: Record<string, unknown> = {}): string =>
    `${SDK.prefix}${encoded({ distinct_id: `$device:${deviceId}`, $device_id: deviceId, ...extra })}`;
  const setCookies = (response: request.Response): string[] =>
    ([] as string[]).concat((response.headers['set-cookie'] as string | string[] | undefined) ?? []);
  const idstitchCookie = (response: request.Response): string | undefined =>
    setCookies(response)
      .find((line) => line.startsWith('idstitch_device='))
      ?.split(';')[0]!
      .slice('idstitch_device='.length)
      .split('.')[0];

  async function delivered(count: number): Promise<Array<{ event: string; properties: Record<string, unknown> }>> {
    await middleware.tracker.flush();
    const events = stub.events();
    expect(events).toHaveLength(count);
    return events;
  }

  it('uses the SDK’s device id and issues no cookie of its own', async () => {
    const response = await request(appWith()).get('/').set('Cookie', sdkCookie(DEVICE)).expect(200);
    expect(response.body).toEqual({ deviceId: DEVICE });
    expect(response.headers['set-cookie']).toBeUndefined();
    expect(response.headers['cache-control']).toBeUndefined();
    const [event] = await delivered(1);
    expect(event!.properties).toMatchObject({ distinct_id: '', $device_id: DEVICE });
    expect(middleware.tracker.stats().identity).toMatchObject({ fromBrowserSdk: 1, issued: 0, invalidBrowserSdkCookies: 0 });
  });

  it('prefers the SDK’s id over its own cookie, which it leaves alone', async () => {
    const response = await request(appWith())
      .get('/')
      .set('Cookie', `idstitch_device=${OTHER_DEVICE}; ${sdkCookie(DEVICE)}`);
    expect(response.body.deviceId).toBe(DEVICE);
    expect(response.headers['set-cookie']).toBeUndefined();
  });

  it('falls back to its own cookie when the SDK’s is absent (a first visit, before the page ran the SDK)', async () => {
    const agent = request.agent(appWith());
    const first = await agent.get('/');
    const own = idstitchCookie(first);
    expect(own).toMatch(UUID_V4);
    expect((await agent.get('/')).body.deviceId).toBe(own);
    expect(middleware.tracker.stats().identity).toMatchObject({ issued: 1, fromBrowserSdk: 0 });
  });

  it('falls back to its own cookie on an invalid SDK cookie, counted, the bad value never sent or echoed', async () => {
    const bad = encoded({ $device_id: 'user-42<script>' });
    const response = await request(appWith()).get('/').set('Cookie', `${SDK.prefix}${bad}`);
    const own = idstitchCookie(response);
    expect(own).toMatch(UUID_V4);
    expect(JSON.stringify(response.headers)).not.toContain('user-42');
    const [event] = await delivered(1);
    expect(event!.properties.$device_id).toBe(own);
    expect(middleware.tracker.stats().identity).toMatchObject({ invalidBrowserSdkCookies: 1, issued: 1, invalidCookies: 0 });
  });

  it('ignores the SDK’s cookie unless the option is on', async () => {
    const response = await request(appWith({ deviceIdFrom: undefined }))
      .get('/')
      .set('Cookie', sdkCookie(DEVICE));
    expect(response.body.deviceId).not.toBe(DEVICE);
    expect(idstitchCookie(response)).toBe(response.body.deviceId);
  });

  it('links the SDK’s device to the user on login, without writing a cookie', async () => {
    const response = await request(appWith()).post('/login').set('Cookie', sdkCookie(DEVICE)).set('x-login', 'user-42');
    expect(response.body).toEqual({ deviceId: DEVICE, userId: 'user-42' });
    expect(response.headers['set-cookie']).toBeUndefined();
    const events = await delivered(2);
    expect(events.map((e) => [e.event, e.properties.$device_id, e.properties.$user_id])).toEqual([
      ['User Identified', DEVICE, 'user-42'],
      ['Logged In', DEVICE, 'user-42'],
    ]);
  });

  it('never replaces the SDK’s id for a user switch: the next request would bring it back', async () => {
    const app = appWith();
    await request(app).post('/login').set('Cookie', sdkCookie(DEVICE)).set('x-login', 'user-42');
    const response = await request(app)
      .get('/')
      .set('Cookie', sdkCookie(DEVICE, { $user_id: 'user-42' }))
      .set('x-user', 'user-43');
    expect(response.body).toEqual({ deviceId: DEVICE, userId: 'user-43' });
    expect(response.headers['set-cookie']).toBeUndefined();
    expect(middleware.tracker.stats().identity.switched).toBe(0);
  });

  it('resetUser: a new id for the rest of the request, in its own cookie; the SDK keeps its id until the page resets it', async () => {
    const app = appWith();
    const response = await request(app).post('/logout').set('Cookie', sdkCookie(DEVICE)).set('x-user', 'user-42');
    const rotated = response.body.deviceId as string;
    expect(rotated).toMatch(UUID_V4);
    expect(rotated).not.toBe(DEVICE);
    expect(idstitchCookie(response)).toBe(rotated);
    expect(setCookies(response).some((line) => line.startsWith(SDK.prefix))).toBe(false); // the SDK's cookie is never written
    const events = await delivered(2);
    expect(events.map((e) => [e.event, e.properties.$device_id, e.properties.$user_id])).toEqual([
      ['Logged Out', DEVICE, 'user-42'],
      ['After Logout', rotated, undefined],
    ]);
    expect(middleware.tracker.stats().identity).toMatchObject({ rotated: 1, browserSdkResets: 1, issued: 0 });

    // Until the page calls mixpanel.reset(), the browser still sends the old id, and the server follows it.
    const next = await request(app)
      .get('/')
      .set('Cookie', `idstitch_device=${rotated}; ${sdkCookie(DEVICE)}`);
    expect(next.body.deviceId).toBe(DEVICE);
    const after = await request(app)
      .get('/')
      .set('Cookie', `idstitch_device=${rotated}; ${sdkCookie(OTHER_DEVICE)}`);
    expect(after.body.deviceId).toBe(OTHER_DEVICE);
    expect(errors).toEqual([]);
  });
});

// Request properties (`requestProperties`): the pure parsing in src/request-properties.ts, then
// each adapter through real HTTP (Express, Koa 2 and 3 over supertest) or Next's own request
// objects, with proxy trust on and off and hostile X-Forwarded-For chains.
import 'next/dist/server/node-environment-baseline.js';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import express, { type Express } from 'express';
import Koa3 from 'koa';
import type { NextApiRequest, NextApiResponse } from 'next';
import { NextRequest } from 'next/server.js';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { coreOf } from '../src/adapter.js';
import { tracking as expressTracking } from '../adapters/express.js';
import { tracking as koaTracking } from '../adapters/koa.js';
import { nextTracking, type NextAdapterOptions } from '../adapters/next/index.js';
import { ConfigError, createTracker, type IdstitchError, type Tracker, type TrackerOptions } from '../src/index.js';
import type { RequestContext } from '../src/request-context.js';
import {
  clientIpFromForwardedFor,
  normalizeIp,
  normalizeRequestProperties,
  parseUserAgent,
  requestProperties,
  type RequestInfo,
} from '../src/request-properties.js';
import { startIngestStub, type IngestStub, type MixpanelEvent } from './support/ingest-stub.js';
import { runInNextRequest } from './support/next-request-scope.js';

const Koa2 = createRequire(import.meta.url)('koa2') as typeof Koa3;

const CHROME_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
/** Every property, URLs sent as they came (redaction has its own tests below). */
const ALL = { ip: true, url: true, referrer: true, utm: true, userAgent: true, redact: undefined } as const;

describe('parseUserAgent: mixpanel-browser’s names for real User-Agents', () => {
  // Expected values follow mixpanel-browser's _.info.browser / browserVersion / os / device, so a
  // server event and a client event from the same browser carry the same values.
  const table: Array<[string, string, { browser?: string; browserVersion?: number; os?: string; device?: string }]> = [
    ['Chrome on Windows', CHROME_WINDOWS, { browser: 'Chrome', browserVersion: 120, os: 'Windows' }],
    [
      'Safari on macOS',
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15',
      { browser: 'Safari', browserVersion: 17.2, os: 'Mac OS X' },
    ],
    [
      'Safari on iPhone',
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1',
      { browser: 'Mobile Safari', browserVersion: 17.2, os: 'iOS', device: 'iPhone' },
    ],
    [
      'Firefox on Linux',
      'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0',
      { browser: 'Firefox', browserVersion: 121, os: 'Linux' },
    ],
    [
      'Firefox on Windows',
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0',
      { browser: 'Firefox', browserVersion: 121, os: 'Windows' },
    ],
    ['Edge on Windows', `${CHROME_WINDOWS} Edg/120.0.2210.91`, { browser: 'Microsoft Edge', browserVersion: 120, os: 'Windows' }],
    [
      'Opera on Windows',
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0',
      { browser: 'Opera', browserVersion: 105, os: 'Windows' },
    ],
    [
      'Samsung Internet',
      'Mozilla/5.0 (Linux; Android 13; SM-S908B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36',
      { browser: 'Samsung Internet', browserVersion: 23, os: 'Android', device: 'Android' },
    ],
    [
      'Chrome on Android',
      'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36',
      { browser: 'Chrome', browserVersion: 120, os: 'Android', device: 'Android' },
    ],
    [
      'Chrome on iPhone',
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1',
      { browser: 'Chrome iOS', browserVersion: 120, os: 'iOS', device: 'iPhone' },
    ],
    [
      'Firefox on iPad',
      'Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/121.0 Mobile/15E148 Safari/605.1.15',
      { browser: 'Firefox iOS', browserVersion: 121, os: 'iOS', device: 'iPad' },
    ],
    [
      'Chrome on a Chromebook',
      'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
      { browser: 'Chrome', browserVersion: 120, os: 'Chrome OS' },
    ],
    [
      'Internet Explorer 11',
      'Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko',
      { browser: 'Internet Explorer', browserVersion: 11, os: 'Windows' },
    ],
    [
      'Facebook’s in-app browser on iPhone',
      'Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/16.6;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5]',
      { browser: 'Facebook Mobile', os: 'iOS', device: 'iPhone' },
    ],
    ['Googlebot', 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', {}],
    ['curl', 'curl/8.4.0', {}],
  ];
  it.each(table)('%s', (_name, ua, expected) => {
    expect(parseUserAgent(ua)).toEqual({ browser: undefined, browserVersion: undefined, os: undefined, device: undefined, ...expected });
  });
});

describe('normalizeIp and clientIpFromForwardedFor', () => {
  it.each([
    ['203.0.113.5', '203.0.113.5'],
    ['::ffff:203.0.113.5', '203.0.113.5'],
    [' 2001:db8::1 ', '2001:db8::1'],
    ['203.0.113.5:4711', '203.0.113.5'],
    ['[2001:db8::1]:4711', '2001:db8::1'],
    ['not-an-ip', undefined],
    ['203.0.113.5<script>', undefined],
    ['unknown', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('normalizeIp(%j) is %j', (value, expected) => {
    expect(normalizeIp(value)).toBe(expected);
  });

  it('takes the entry as many places from the right as there are trusted proxies, never one the client wrote', () => {
    const chain = '6.6.6.6, 203.0.113.9, 10.0.0.2';
    expect(clientIpFromForwardedFor(chain, 1)).toBe('10.0.0.2');
    expect(clientIpFromForwardedFor(chain, 2)).toBe('203.0.113.9');
    expect(clientIpFromForwardedFor(chain, 4)).toBeUndefined(); // shorter than the proxies said: did not come through them
    expect(clientIpFromForwardedFor(chain, 0)).toBeUndefined();
    expect(clientIpFromForwardedFor('6.6.6.6, evil', 1)).toBeUndefined();
    expect(clientIpFromForwardedFor(undefined, 1)).toBeUndefined();
  });
});

describe('requestProperties', () => {
  function info(url: string | undefined, headers: Record<string, string> = {}, ip?: string): RequestInfo {
    return { requestUrl: () => url, header: (name) => headers[name], clientIp: () => ip };
  }

  it('reads the URL, its UTM parameters, the referrer and the User-Agent', () => {
    const properties = requestProperties(
      ALL,
      info(
        'https://shop.example/pricing?utm_source=news&utm_medium=email&utm_campaign=&utm_source=second&plan=pro',
        { referer: 'https://www.google.com/search?q=shoes', 'user-agent': CHROME_WINDOWS },
        '::ffff:198.51.100.7',
      ),
    );
    expect(properties).toEqual({
      ip: '198.51.100.7',
      $current_url: 'https://shop.example/pricing?utm_source=news&utm_medium=email&utm_campaign=&utm_source=second&plan=pro',
      utm_source: 'news', // the first occurrence, as mixpanel-browser reads it; the empty utm_campaign is left out
      utm_medium: 'email',
      $referrer: 'https://www.google.com/search?q=shoes',
      $referring_domain: 'www.google.com',
      $browser: 'Chrome',
      $browser_version: 120,
      $os: 'Windows',
    });
  });

  it('adds only what the settings name', () => {
    expect(
      requestProperties(
        { ...ALL, ip: false, url: false, referrer: false, userAgent: false },
        info('https://a.example/?utm_term=x', { 'user-agent': CHROME_WINDOWS }, '1.2.3.4'),
      ),
    ).toEqual({ utm_term: 'x' });
  });

  it('adds nothing for a missing, malformed or non-http URL or referrer, and no ip that is not an address', () => {
    expect(requestProperties(ALL, info(undefined, { referer: 'not a url' }, 'evil'))).toBeUndefined();
    expect(requestProperties(ALL, info('javascript:alert(1)', { referer: 'android-app://com.example' }))).toBeUndefined();
  });

  it('truncates strings to 255 characters, as mixpanel-browser does', () => {
    const long = 'https://a.example/' + 'x'.repeat(400);
    const properties = requestProperties(ALL, info(long, { referer: long }));
    expect((properties!.$current_url as string).length).toBe(255);
    expect((properties!.$referrer as string).length).toBe(255);
  });
});

describe('requestProperties option', () => {
  it('is off by default and on with true', () => {
    expect(normalizeRequestProperties(undefined)).toBeUndefined();
    expect(normalizeRequestProperties(false)).toBeUndefined();
    expect(normalizeRequestProperties(true)).toEqual({ ...ALL, redact: expect.any(Function) });
    expect(normalizeRequestProperties({ userAgent: true })).toEqual({
      ip: false,
      url: false,
      referrer: false,
      utm: false,
      userAgent: true,
      redact: expect.any(Function),
    });
    expect(normalizeRequestProperties({ ip: false })).toBeUndefined();
  });

  it('rejects unknown names with a suggestion, and non-boolean values', () => {
    expect(() => createTracker({ requestProperties: { userAgnet: true } as never })).toThrow(
      /`requestProperties.userAgnet` is not an option; did you mean `requestProperties.userAgent`/,
    );
    expect(() => createTracker({ requestProperties: { ip: 'yes' } as never })).toThrow(ConfigError);
    expect(() => createTracker({ requestProperties: 'all' as never })).toThrow(/requestProperties/);
    expect(() => createTracker({ requestPropertes: true } as never)).toThrow(/did you mean `requestProperties`/);
  });
});

describe('secrets in URLs are redacted by default', () => {
  const info = (url: string, referer?: string): RequestInfo => ({
    requestUrl: () => url,
    header: (name) => (name === 'referer' ? referer : undefined),
    clientIp: () => undefined,
  });
  const MAGIC =
    'https://app.example/login/magic?token=abc123&utm_source=mail&gclid=xyz&email=ada%40example.com&plan=pro&X-Amz-Signature=f00d&author=jane&resetCode=9&state=';

  it('redacts tokens, codes, signatures, e-mail addresses and the like in $current_url and $referrer; keeps utm_*, click ids and the rest', () => {
    const properties = requestProperties(
      normalizeRequestProperties({ url: true, referrer: true, utm: true })!,
      info(MAGIC, 'https://app.example/reset?code=998877&next=%2Fhome'),
    );
    expect(properties).toEqual({
      $current_url:
        'https://app.example/login/magic?token=redacted&utm_source=mail&gclid=xyz&email=redacted&plan=pro&X-Amz-Signature=redacted&author=jane&resetCode=redacted&state=',
      utm_source: 'mail',
      $referrer: 'https://app.example/reset?code=redacted&next=%2Fhome',
      $referring_domain: 'app.example',
    });
  });

  it('leaves a URL without secrets byte for byte as it came', () => {
    const url = 'https://shop.example/pricing?plan=pro&q=a+b%20c';
    expect(requestProperties(normalizeRequestProperties({ url: true })!, info(url))).toEqual({ $current_url: url });
  });

  it('takes more names to redact, or false to keep URLs raw; anything else is refused', () => {
    const url = 'https://app.example/join?invite=a1b2&token=t';
    expect(requestProperties(normalizeRequestProperties({ url: true, redact: ['Invite'] })!, info(url))).toEqual({
      $current_url: 'https://app.example/join?invite=redacted&token=redacted',
    });
    expect(requestProperties(normalizeRequestProperties({ url: true, redact: false })!, info(url))).toEqual({ $current_url: url });
    expect(() => createTracker({ requestProperties: { url: true, redact: 'invite' as never } })).toThrow(/requestProperties.redact/);
    expect(() => createTracker({ requestProperties: { url: true, redact: [''] } })).toThrow(ConfigError);
  });

  it('through Express: a magic-link landing never sends its token', async () => {
    const stub = await startIngestStub();
    const middleware = expressTracking({ apiHost: stub.url, token: 't', requestProperties: { url: true } });
    try {
      const application = express();
      application.use(middleware);
      application.get('/login/magic', (req, res) => {
        req.track('Opened Magic Link');
        res.send('ok');
      });
      await request(application).get('/login/magic?token=abc123&utm_campaign=spring').expect(200);
      await middleware.tracker.flush();
      expect(stub.events()[0]!.properties.$current_url).toMatch(
        /^http:\/\/127\.0\.0\.1:\d+\/login\/magic\?token=redacted&utm_campaign=spring$/,
      );
    } finally {
      await middleware.tracker.shutdown({ timeoutMs: 1000 });
      await stub.close();
    }
  });
});

describe('the core reads the request once, on the first event', () => {
  it('never on a request that tracks nothing; once however many events it tracks', () => {
    const tracker = createTracker({ apiHost: 'http://127.0.0.1:9', requestProperties: true, logger: false });
    const reads = { url: 0, ip: 0 };
    const context = (): RequestContext => ({
      cookieHeader: () => undefined,
      header: () => undefined,
      requestUrl: () => (reads.url++, 'http://a.example/'),
      clientIp: () => (reads.ip++, '203.0.113.1'),
      isSecure: () => false,
      headersSent: () => false,
      onHeaders: () => {},
      setCookie: () => {},
      getResponseHeader: () => undefined,
      setResponseHeader: () => {},
    });
    coreOf(tracker).scope(context(), { req: {} });
    expect(reads).toEqual({ url: 0, ip: 0 });
    const scope = coreOf(tracker).scope(context(), { req: {} });
    scope.track('One');
    scope.track('Two');
    scope.identify('u1');
    expect(reads).toEqual({ url: 1, ip: 1 });
    void tracker.shutdown({ timeoutMs: 0 });
  });
});

let stub: IngestStub;
let errors: IdstitchError[];
let closers: Array<() => Promise<void>>;

beforeEach(async () => {
  stub = await startIngestStub();
  errors = [];
  closers = [];
});

afterEach(async () => {
  for (const close of closers) await close();
  await stub.close();
});

function options(extra: TrackerOptions = {}): TrackerOptions {
  return {
    apiHost: stub.url,
    token: 't',
    flushIntervalMs: 600_000,
    onError: (error) => errors.push(error),
    requestProperties: true,
    ...extra,
  };
}

async function only(tracker: Tracker): Promise<Record<string, unknown>> {
  await tracker.flush();
  const events = stub.events();
  expect(events).toHaveLength(1);
  return events[0]!.properties;
}

describe('Express: request properties through real HTTP', () => {
  function app(extra: TrackerOptions = {}, setup?: (app: Express) => void): { app: Express; tracker: Tracker } {
    const middleware = expressTracking(options(extra));
    closers.push(() => middleware.tracker.shutdown({ timeoutMs: 2000 }));
    const application = express();
    setup?.(application);
    application.use(middleware);
    application.use((req, res) => {
      req.track(
        'Viewed Page',
        req.url.includes('own=1') ? { $current_url: 'https://mine.example/', ip: '192.0.2.1', $browser: 'Mine' } : undefined,
      );
      res.send('ok');
    });
    return { app: application, tracker: middleware.tracker };
  }

  it('sends ip "0" when the option is off, whatever the headers say', async () => {
    const { app: application, tracker } = app({ requestProperties: false });
    await request(application).get('/').set('X-Forwarded-For', '203.0.113.9').set('User-Agent', CHROME_WINDOWS).expect(200);
    const properties = await only(tracker);
    expect(properties.ip).toBe('0');
    expect(properties).not.toHaveProperty('$browser');
    expect(properties).not.toHaveProperty('$current_url');
  });

  it('sends the socket’s address without trust proxy, ignoring a forged X-Forwarded-For', async () => {
    const { app: application, tracker } = app();
    await request(application).get('/').set('X-Forwarded-For', '6.6.6.6, 203.0.113.9');
    expect((await only(tracker)).ip).toBe('127.0.0.1'); // ::ffff:127.0.0.1 on the socket, sent as IPv4
  });

  it('with trust proxy "loopback", the nearest untrusted X-Forwarded-For entry, not the forged left-most one', async () => {
    const { app: application, tracker } = app({}, (a) => a.set('trust proxy', 'loopback'));
    await request(application).get('/').set('X-Forwarded-For', '6.6.6.6, 203.0.113.9');
    expect((await only(tracker)).ip).toBe('203.0.113.9');
  });

  it('with trust proxy true, Express’s own answer: the left-most entry, which the client wrote (documented as spoofable)', async () => {
    const { app: application, tracker } = app({}, (a) => a.set('trust proxy', true));
    await request(application).get('/').set('X-Forwarded-For', '6.6.6.6, 203.0.113.9');
    expect((await only(tracker)).ip).toBe('6.6.6.6');
  });

  it('sends ip "0" when the trusted address is not an address', async () => {
    const { app: application, tracker } = app({}, (a) => a.set('trust proxy', true));
    await request(application).get('/').set('X-Forwarded-For', '<script>, 203.0.113.9');
    expect((await only(tracker)).ip).toBe('0');
  });

  it('sends $current_url and the utm_* parameters; scheme and host from trusted X-Forwarded-* only', async () => {
    const { app: application, tracker } = app();
    const response = await request(application)
      .get('/pricing?utm_source=news&utm_campaign=spring')
      .set('X-Forwarded-Proto', 'https')
      .set('X-Forwarded-Host', 'evil.example');
    const port = (response.request as unknown as { url: string }).url.match(/:(\d+)\//)![1];
    const properties = await only(tracker);
    expect(properties).toMatchObject({
      $current_url: `http://127.0.0.1:${port}/pricing?utm_source=news&utm_campaign=spring`,
      utm_source: 'news',
      utm_campaign: 'spring',
    });
  });

  it('behind a trusted proxy, the URL the browser asked for', async () => {
    const { app: application, tracker } = app({}, (a) => a.set('trust proxy', 'loopback'));
    await request(application).get('/pricing').set('X-Forwarded-Proto', 'https').set('X-Forwarded-Host', 'shop.example');
    expect((await only(tracker)).$current_url).toBe('https://shop.example/pricing');
  });

  it('keeps the path a mounted router cut off', async () => {
    const middleware = expressTracking(options());
    closers.push(() => middleware.tracker.shutdown({ timeoutMs: 2000 }));
    const application = express();
    const router = express.Router();
    router.get('/items', (req, res) => {
      req.track('Listed Items');
      res.send('ok');
    });
    application.use('/api', middleware, router);
    await request(application).get('/api/items?utm_medium=cpc');
    const properties = await only(middleware.tracker);
    expect(properties.$current_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/items\?utm_medium=cpc$/);
    expect(properties.utm_medium).toBe('cpc');
  });

  it('sends $referrer and $referring_domain, and the User-Agent’s browser, version, OS and device', async () => {
    const { app: application, tracker } = app();
    await request(application)
      .get('/')
      .set('Referer', 'https://news.example:8443/story?id=1')
      .set(
        'User-Agent',
        'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1',
      );
    expect(await only(tracker)).toMatchObject({
      $referrer: 'https://news.example:8443/story?id=1',
      $referring_domain: 'news.example:8443',
      $browser: 'Mobile Safari',
      $browser_version: 17.2,
      $os: 'iOS',
      $device: 'iPhone',
    });
  });

  it('lets the event’s own properties win, and request properties win over superProperties', async () => {
    const { app: application, tracker } = app({ superProperties: { $browser: 'Super', $os: 'Super', team: 'growth' } });
    await request(application).get('/?own=1').set('User-Agent', CHROME_WINDOWS);
    expect(await only(tracker)).toMatchObject({
      $current_url: 'https://mine.example/',
      ip: '192.0.2.1',
      $browser: 'Mine',
      $os: 'Windows',
      team: 'growth',
    });
  });

  it('adds the properties to identifyUser’s event too', async () => {
    const middleware = expressTracking(options({ requestProperties: { userAgent: true } }));
    closers.push(() => middleware.tracker.shutdown({ timeoutMs: 2000 }));
    const application = express();
    application.use(middleware);
    application.post('/login', async (req, res) => {
      const { identifyUser } = await import('../adapters/express.js');
      identifyUser(req, 'u1');
      res.send('ok');
    });
    await request(application).post('/login').set('User-Agent', CHROME_WINDOWS);
    expect(await only(middleware.tracker)).toMatchObject({ $user_id: 'u1', $browser: 'Chrome', ip: '0' });
  });
});

describe.each([
  ['koa 3', Koa3],
  ['koa 2', Koa2],
] as Array<[string, typeof Koa3]>)('Koa (%s): request properties through real HTTP', (_name, Koa) => {
  function app(configure: (app: Koa3) => void = () => {}, extra: TrackerOptions = {}): { app: Koa3; tracker: Tracker } {
    const middleware = koaTracking(options(extra));
    closers.push(() => middleware.tracker.shutdown({ timeoutMs: 2000 }));
    const application = new Koa();
    application.silent = true;
    configure(application);
    application.use(middleware);
    application.use((ctx) => {
      ctx.track('Viewed Page');
      ctx.body = 'ok';
    });
    return { app: application, tracker: middleware.tracker };
  }

  it('sends the socket’s address without app.proxy, ignoring a forged X-Forwarded-For', async () => {
    const { app: application, tracker } = app();
    await request(application.callback()).get('/').set('X-Forwarded-For', '6.6.6.6, 203.0.113.9');
    expect((await only(tracker)).ip).toBe('127.0.0.1');
  });

  it('with app.proxy, Koa’s ctx.ip: the left-most entry, which the client can forge', async () => {
    const { app: application, tracker } = app((a) => (a.proxy = true));
    await request(application.callback()).get('/').set('X-Forwarded-For', '6.6.6.6, 203.0.113.9');
    expect((await only(tracker)).ip).toBe('6.6.6.6');
  });

  it('with app.proxy and maxIpsCount: 1, the address the proxy appended', async () => {
    const { app: application, tracker } = app((a) => {
      a.proxy = true;
      a.maxIpsCount = 1;
    });
    await request(application.callback()).get('/').set('X-Forwarded-For', '6.6.6.6, 203.0.113.9');
    expect((await only(tracker)).ip).toBe('203.0.113.9');
  });

  it('sends ip "0" when the option is off', async () => {
    const { app: application, tracker } = app((a) => (a.proxy = true), { requestProperties: false });
    await request(application.callback()).get('/').set('X-Forwarded-For', '203.0.113.9');
    expect((await only(tracker)).ip).toBe('0');
  });

  it('sends ctx.href as $current_url (X-Forwarded-* only with app.proxy), utm_*, the referrer and the User-Agent', async () => {
    const trusting = app((a) => (a.proxy = true));
    await request(trusting.app.callback())
      .get('/pricing?utm_source=ads&utm_term=shoes')
      .set('X-Forwarded-Proto', 'https')
      .set('X-Forwarded-Host', 'shop.example')
      .set('Referer', 'https://www.bing.com/')
      .set('User-Agent', 'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0');
    expect(await only(trusting.tracker)).toMatchObject({
      $current_url: 'https://shop.example/pricing?utm_source=ads&utm_term=shoes',
      utm_source: 'ads',
      utm_term: 'shoes',
      $referrer: 'https://www.bing.com/',
      $referring_domain: 'www.bing.com',
      $browser: 'Firefox',
      $browser_version: 121,
      $os: 'Linux',
    });
  });

  it('ignores X-Forwarded-Host and -Proto without app.proxy', async () => {
    const { app: application, tracker } = app();
    await request(application.callback()).get('/p').set('X-Forwarded-Proto', 'https').set('X-Forwarded-Host', 'evil.example');
    expect((await only(tracker)).$current_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/p$/);
  });
});

describe('Next: request properties', () => {
  let tracker: Tracker;
  beforeEach(() => {
    tracker = createTracker(options());
    closers.push(() => tracker.shutdown({ timeoutMs: 2000 }));
  });

  function route(
    adapter: NextAdapterOptions,
    headers: Record<string, string>,
    url = 'https://shop.example/api/buy?utm_source=mail',
  ): Promise<Response> {
    const { withTracking } = nextTracking(tracker, adapter);
    const handler = withTracking((_request, { tracking }) => {
      tracking.track('Bought');
      return new Response('ok');
    });
    return handler(new NextRequest(url, { headers }), { params: Promise.resolve({}) });
  }

  it('Route Handler: no address from X-Forwarded-For unless trustProxy says proxies are there (ip "0")', async () => {
    await route({}, { 'x-forwarded-for': '203.0.113.9', 'user-agent': CHROME_WINDOWS });
    expect(await only(tracker)).toMatchObject({
      ip: '0',
      $current_url: 'https://shop.example/api/buy?utm_source=mail',
      utm_source: 'mail',
      $browser: 'Chrome',
    });
  });

  it.each([
    [1, '203.0.113.9'],
    [2, '6.6.6.6'],
    [3, '0'],
  ])('Route Handler with trustProxy %i behind a forged chain: %s', async (trustProxy, ip) => {
    await route({ trustProxy }, { 'x-forwarded-for': '6.6.6.6, 203.0.113.9' });
    expect((await only(tracker)).ip).toBe(ip);
  });

  it('rejects trustProxy: true and other non-counts', () => {
    expect(() => nextTracking(tracker, { trustProxy: true as never })).toThrow(/trustProxy/);
    expect(() => nextTracking(tracker, { trustProxy: -1 })).toThrow(ConfigError);
    expect(() => nextTracking(tracker, { trustPoxy: 1 } as never)).toThrow(/did you mean `trustProxy`/);
  });

  it('Server Component: the User-Agent, the referrer and a trusted address; no URL (Next does not give one)', async () => {
    const { getTracking } = nextTracking(tracker, { trustProxy: 1 });
    const run = runInNextRequest(
      { phase: 'render', headers: { 'user-agent': CHROME_WINDOWS, referer: 'https://a.example/', 'x-forwarded-for': '203.0.113.4' } },
      async () => {
        (await getTracking()).track('Viewed Pricing');
      },
    );
    await run.result;
    await run.close();
    const properties = await only(tracker);
    expect(properties).toMatchObject({
      ip: '203.0.113.4',
      $browser: 'Chrome',
      $referrer: 'https://a.example/',
      $referring_domain: 'a.example',
    });
    expect(properties).not.toHaveProperty('$current_url');
  });

  it('Pages API route: the socket’s address by default, the proxy’s X-Forwarded-For entry with trustProxy', async () => {
    for (const [trustProxy, expected] of [
      [0, '127.0.0.1'],
      [1, '203.0.113.9'],
    ] as const) {
      const { withApiTracking } = nextTracking(tracker, { trustProxy });
      const handler = withApiTracking((_req, res, tracking) => {
        tracking.track('Said Hello');
        res.end('ok');
      });
      const server = http.createServer(
        (req: IncomingMessage, res: ServerResponse) => void handler(req as NextApiRequest, res as NextApiResponse),
      );
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      await fetch(`http://127.0.0.1:${port}/api/hello?utm_content=x`, { headers: { 'x-forwarded-for': '6.6.6.6, 203.0.113.9' } }).then(
        (r) => r.text(),
      );
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await tracker.flush();
      const event = stub.events().at(-1) as MixpanelEvent;
      expect(event.properties).toMatchObject({
        ip: expected,
        $current_url: `http://127.0.0.1:${port}/api/hello?utm_content=x`,
        utm_content: 'x',
      });
    }
  });
});

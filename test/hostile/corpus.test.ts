// The hostile-input corpus: cookies, headers, user ids, event names and properties an attacker (or a
// buggy app) can send, each driven through a real Express, Koa and Fastify app into the local
// collector, which validates like Mixpanel's strict /import. For every case: the host answers 200 (never a 500, a
// crash or an unhandled rejection), the problem is reported with its stable code, and the valid
// "Control" event tracked in the same request is still delivered with a sound identity.
import type { Server } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as expressAdapter from '../../adapters/express.js';
import * as fastifyAdapter from '../../adapters/fastify.js';
import * as koaAdapter from '../../adapters/koa.js';
import type { IdstitchError, Tracker, TrackerOptions } from '../../src/index.js';
import { startCollector, type Collector } from '../../src/collector/index.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const VALID = '6f1c2a4e-9b7d-4c3e-8a2f-1d0e9c8b7a65';
const OTHER = '0b8f8c1e-2d3a-4f5b-9c6d-7e8f9a0b1c2d';

interface Case {
  readonly name: string;
  /** Request headers (the Cookie header among them). */
  readonly headers?: Record<string, string>;
  /** What the route does with the hostile input before it tracks the Control event. */
  readonly act?: (on: Handle) => void;
  /** The error codes reported, in order (none when omitted). */
  readonly codes?: readonly string[];
  /** The device id: kept from the cookie (`kept`, or the id expected), or a fresh one issued (`replaced`). */
  readonly device?: 'replaced' | string;
  /** The `$user_id` the Control event carries (absent when omitted). */
  readonly userId?: string;
}

/** What a case can do in a route, whichever framework serves it. */
interface Handle {
  track(name: unknown, properties?: unknown): void;
  /** Signs the request in as `id` (what the app's auth would do); the corpus's getUserId reads it. */
  setUser(id: unknown): void;
  identify(id: unknown): void;
}

const cookie = (value: string): Record<string, string> => ({ cookie: `idstitch_device=${value}` });
const track = (name: unknown, properties?: unknown) => (on: Handle) => on.track(name, properties);
const asUser = (id: unknown) => (on: Handle) => on.setUser(id);
const identifyAs = (id: unknown) => (on: Handle) => on.identify(id);
const nested = (depth: number): Record<string, unknown> => (depth === 0 ? { leaf: 1 } : { inner: nested(depth - 1) });
const keys = (count: number): Record<string, number> => Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, i]));
const circular = (): Record<string, unknown> => {
  const value: Record<string, unknown> = { a: 1 };
  value.self = value;
  return value;
};
const throwingGetter = (): Record<string, unknown> =>
  Object.defineProperty({}, 'boom', {
    enumerable: true,
    get: () => {
      throw new Error('getter exploded');
    },
  });

const CASES: readonly Case[] = [
  // ── Cookies ──────────────────────────────────────────────────────────────────────────────────
  { name: 'cookie: not a UUID', headers: cookie('not-a-uuid'), device: 'replaced' },
  { name: 'cookie: a UUID of version 1', headers: cookie('6f1c2a4e-9b7d-1c3e-8a2f-1d0e9c8b7a65'), device: 'replaced' },
  { name: 'cookie: an upper-case UUID (idstitch issues lower case)', headers: cookie(VALID.toUpperCase()), device: 'replaced' },
  { name: 'cookie: empty value', headers: cookie(''), device: 'replaced' },
  { name: 'cookie: 4 KB value', headers: cookie('a'.repeat(4096)), device: 'replaced' },
  { name: 'cookie: a valid id followed by junk', headers: cookie(VALID + 'junk'), device: 'replaced' },
  { name: 'cookie: quoted value', headers: cookie(`"${VALID}"`), device: 'replaced' },
  { name: 'cookie: percent-encoded ; injection', headers: cookie(`${VALID}%3Bevil=1`), device: 'replaced' },
  { name: 'cookie: percent-encoded CR/LF header injection', headers: cookie(`${VALID}%0D%0ASet-Cookie:%20evil=1`), device: 'replaced' },
  { name: 'cookie: percent-encoded NUL', headers: cookie(`${VALID}%00`), device: 'replaced' },
  { name: 'cookie: Latin-1 bytes', headers: cookie('üñï©ødé'), device: 'replaced' },
  { name: 'cookie: a valid id after ; is its own cookie, and kept', headers: { cookie: `idstitch_device=${VALID};evil=1` }, device: VALID },
  {
    name: 'cookie: duplicated name, invalid first: the first valid one is kept',
    headers: { cookie: `idstitch_device=bad; idstitch_device=${VALID}` },
    device: VALID,
  },
  {
    name: 'cookie: duplicated name, both valid: the first is kept',
    headers: { cookie: `idstitch_device=${VALID}; idstitch_device=${OTHER}` },
    device: VALID,
  },
  { name: 'cookie: a look-alike name is not ours', headers: { cookie: `xidstitch_device=${VALID}` }, device: 'replaced' },
  {
    name: 'cookie: 300 other cookies before ours',
    headers: { cookie: Array.from({ length: 300 }, (_, i) => `c${i}=v${i}`).join('; ') + `; idstitch_device=${VALID}` },
    device: VALID,
  },
  // ── Headers ──────────────────────────────────────────────────────────────────────────────────
  {
    name: 'headers: a 500-hop X-Forwarded-For (6 KB) never becomes the event ip',
    headers: { 'x-forwarded-for': Array.from({ length: 500 }, (_, i) => `10.0.${i >> 8}.${i & 255}`).join(', ') },
    device: 'replaced',
  },
  {
    name: 'headers: spoofed X-Forwarded-For with proxy trust off',
    headers: { 'x-forwarded-for': '203.0.113.7', ...cookie(VALID) },
    device: VALID,
  },
  {
    name: 'headers: spoofed X-Forwarded-Proto https with proxy trust off: no Secure cookie',
    headers: { 'x-forwarded-proto': 'https' },
    device: 'replaced',
  },
  {
    name: 'headers: a garbage Forwarded header',
    headers: { forwarded: 'for="_gazonk";proto=javascript;by=;;;', ...cookie(VALID) },
    device: VALID,
  },
  // ── User ids ─────────────────────────────────────────────────────────────────────────────────
  ...['undefined', 'null', 'NULL', '0', '-1', 'anonymous', 'None', 'nil', '[]', '{}', 'false', '00000000-0000-0000-0000-000000000000'].map(
    (id): Case => ({
      name: `user id: the deny-listed ${JSON.stringify(id)}`,
      headers: cookie(VALID),
      act: asUser(id),
      codes: ['IDSTITCH_INVALID_USER_ID'],
      device: VALID,
    }),
  ),
  { name: 'user id: an object', headers: cookie(VALID), act: asUser({ nested: true }), codes: ['IDSTITCH_INVALID_USER_ID'], device: VALID },
  { name: 'user id: an array', headers: cookie(VALID), act: asUser(['u1']), codes: ['IDSTITCH_INVALID_USER_ID'], device: VALID },
  {
    name: 'user id: 10,000 characters',
    headers: cookie(VALID),
    act: asUser('u'.repeat(10_000)),
    codes: ['IDSTITCH_INVALID_USER_ID'],
    device: VALID,
  },
  { name: 'user id: whitespace only', headers: cookie(VALID), act: asUser(' \t '), codes: ['IDSTITCH_INVALID_USER_ID'], device: VALID },
  { name: 'user id: NaN', headers: cookie(VALID), act: asUser(Number.NaN), codes: ['IDSTITCH_INVALID_USER_ID'], device: VALID },
  {
    name: 'user id: the reserved $device: prefix',
    headers: cookie(VALID),
    act: asUser(`$device:${OTHER}`),
    codes: ['IDSTITCH_INVALID_USER_ID'],
    device: VALID,
  },
  {
    name: 'user id: identifyUser with a deny-listed id sends no link',
    headers: cookie(VALID),
    act: identifyAs('undefined'),
    codes: ['IDSTITCH_INVALID_USER_ID'],
    device: VALID,
  },
  {
    name: 'user id: unicode is kept byte for byte',
    headers: cookie(VALID),
    act: asUser('用户-42 👤'),
    device: VALID,
    userId: '用户-42 👤',
  },
  { name: 'user id: a number becomes its string', headers: cookie(VALID), act: asUser(42), device: VALID, userId: '42' },
  {
    name: 'user id: a getUserId that throws is reported, the request anonymous',
    headers: { ...cookie(VALID), 'x-auth': 'throw' },
    codes: ['IDSTITCH_GET_USER_ID_FAILED'],
    device: VALID,
  },
  // ── Event names ──────────────────────────────────────────────────────────────────────────────
  { name: 'event: empty name', act: track(''), codes: ['IDSTITCH_INVALID_EVENT_NAME'], device: 'replaced' },
  { name: 'event: a number as name', act: track(42), codes: ['IDSTITCH_INVALID_EVENT_NAME'], device: 'replaced' },
  { name: 'event: a 256-character name', act: track('e'.repeat(256)), codes: ['IDSTITCH_INVALID_EVENT_NAME'], device: 'replaced' },
  { name: 'event: $identify', act: track('$identify'), codes: ['IDSTITCH_IDENTITY_EVENT'], device: 'replaced' },
  { name: 'event: $create_alias', act: track('$create_alias', { alias: 'x' }), codes: ['IDSTITCH_IDENTITY_EVENT'], device: 'replaced' },
  { name: 'event: $merge', act: track('$merge'), codes: ['IDSTITCH_IDENTITY_EVENT'], device: 'replaced' },
  // ── Properties ───────────────────────────────────────────────────────────────────────────────
  {
    name: 'properties: an array instead of an object',
    act: track('Hostile', ['a']),
    codes: ['IDSTITCH_INVALID_PROPERTIES'],
    device: 'replaced',
  },
  {
    name: 'properties: a string instead of an object',
    act: track('Hostile', 'plan=pro'),
    codes: ['IDSTITCH_INVALID_PROPERTIES'],
    device: 'replaced',
  },
  {
    name: 'properties: __proto__ payload',
    act: track('Hostile', JSON.parse('{"__proto__":{"polluted":true}}')),
    codes: ['IDSTITCH_INVALID_PROPERTIES'],
    device: 'replaced',
  },
  {
    name: 'properties: constructor.prototype payload',
    act: track('Hostile', JSON.parse('{"constructor":{"prototype":{"polluted":true}}}')),
    codes: ['IDSTITCH_INVALID_PROPERTIES'],
    device: 'replaced',
  },
  { name: 'properties: circular', act: track('Hostile', circular()), codes: ['IDSTITCH_INVALID_PROPERTIES'], device: 'replaced' },
  { name: 'properties: BigInt', act: track('Hostile', { n: 10n }), codes: ['IDSTITCH_INVALID_PROPERTIES'], device: 'replaced' },
  {
    name: 'properties: a symbol value',
    act: track('Hostile', { s: Symbol('x') }),
    codes: ['IDSTITCH_INVALID_PROPERTIES'],
    device: 'replaced',
  },
  {
    name: 'properties: a function value',
    act: track('Hostile', { f: () => 1 }),
    codes: ['IDSTITCH_INVALID_PROPERTIES'],
    device: 'replaced',
  },
  { name: 'properties: NaN', act: track('Hostile', { n: Number.NaN }), codes: ['IDSTITCH_INVALID_PROPERTIES'], device: 'replaced' },
  {
    name: 'properties: an invalid Date',
    act: track('Hostile', { when: new Date('nope') }),
    codes: ['IDSTITCH_INVALID_PROPERTIES'],
    device: 'replaced',
  },
  {
    name: 'properties: a typed array',
    act: track('Hostile', { bytes: new Uint8Array(4) }),
    codes: ['IDSTITCH_INVALID_PROPERTIES'],
    device: 'replaced',
  },
  {
    name: 'properties: a Map',
    act: track('Hostile', { m: new Map([['a', 1]]) }),
    codes: ['IDSTITCH_INVALID_PROPERTIES'],
    device: 'replaced',
  },
  {
    name: 'properties: nested 4 levels (limit 3)',
    act: track('Hostile', { deep: nested(3) }),
    codes: ['IDSTITCH_INVALID_PROPERTIES'],
    device: 'replaced',
  },
  {
    name: 'properties: a list of 255 items (limit: fewer than 255)',
    act: track('Hostile', { list: Array.from({ length: 255 }, (_, i) => i) }),
    codes: ['IDSTITCH_INVALID_PROPERTIES'],
    device: 'replaced',
  },
  {
    name: 'properties: 255 properties (limit: fewer than 255 with ours)',
    act: track('Hostile', keys(255)),
    codes: ['IDSTITCH_INVALID_PROPERTIES'],
    device: 'replaced',
  },
  {
    name: 'properties: a 256-character property name',
    act: track('Hostile', { ['p'.repeat(256)]: 1 }),
    codes: ['IDSTITCH_INVALID_PROPERTIES'],
    device: 'replaced',
  },
  {
    name: 'properties: a 1 MB event',
    act: track('Hostile', { blob: 'x'.repeat(1_000_000) }),
    codes: ['IDSTITCH_EVENT_TOO_LARGE'],
    device: 'replaced',
  },
  {
    name: 'properties: $device_id override',
    act: track('Hostile', { $device_id: OTHER }),
    codes: ['IDSTITCH_RESERVED_PROPERTY'],
    device: 'replaced',
  },
  {
    name: 'properties: distinct_id override',
    act: track('Hostile', { distinct_id: 'someone-else' }),
    codes: ['IDSTITCH_RESERVED_PROPERTY'],
    device: 'replaced',
  },
  {
    name: 'properties: token override',
    act: track('Hostile', { token: 'another-project' }),
    codes: ['IDSTITCH_RESERVED_PROPERTY'],
    device: 'replaced',
  },
  {
    name: 'properties: an $insert_id with spaces',
    act: track('Hostile', { $insert_id: 'has spaces!' }),
    codes: ['IDSTITCH_INVALID_PROPERTIES'],
    device: 'replaced',
  },
  { name: 'properties: a negative time', act: track('Hostile', { time: -5 }), codes: ['IDSTITCH_INVALID_PROPERTIES'], device: 'replaced' },
  {
    name: 'properties: a getter that throws',
    act: track('Hostile', throwingGetter()),
    codes: ['IDSTITCH_INVALID_PROPERTIES'],
    device: 'replaced',
  },
  {
    name: 'properties: a Proxy whose traps throw',
    act: track(
      'Hostile',
      new Proxy(
        {},
        {
          ownKeys: () => {
            throw new Error('trap');
          },
        },
      ),
    ),
    codes: ['IDSTITCH_INVALID_PROPERTIES'],
    device: 'replaced',
  },
  // Accepted as they are: the receiving side must take them.
  {
    name: 'properties: a lone surrogate and control characters arrive as valid JSON',
    act: track('Hostile OK', { s: '\uD800\u0000\u001f"\\' }),
    device: 'replaced',
  },
  { name: 'properties: a Date becomes its ISO string', act: track('Hostile OK', { when: new Date(0) }), device: 'replaced' },
  { name: 'properties: a 255-character name, at the limit', act: track('e'.repeat(255), { ok: true }), device: 'replaced' },
];

/** Where the corpus's getUserId finds the user a case signed in (on the request object, any framework). */
const USER = Symbol('corpus user');
type WithUser = { [USER]?: unknown; headers?: Record<string, unknown> };

/** Throws for `x-auth: throw` (an auth backend down); otherwise the user a case signed in. */
function corpusUserId(carrier: WithUser, headers: Record<string, unknown>): unknown {
  if (headers['x-auth'] === 'throw') throw new Error('auth backend down');
  return carrier[USER];
}

/** A framework serving the corpus route `GET /case/:n`: it runs the case, tracks Control, answers JSON. */
interface Served {
  server: Server;
  tracker: Tracker;
  /** Errors that reached the framework's own error handling (none expected). */
  serverErrors: unknown[];
  close(): Promise<void>;
}
type Serve = (options: TrackerOptions<never>, route: (n: number, on: Handle) => void) => Promise<Served>;

const listening = (server: Server): Promise<void> =>
  new Promise((resolve) => (server.listening ? resolve() : server.once('listening', () => resolve())));

const FRAMEWORKS: Array<[string, Serve]> = [
  [
    'Express',
    async (options, route) => {
      const middleware = expressAdapter.tracking({
        ...options,
        getUserId: (req) => corpusUserId(req as WithUser, req.headers),
      } as TrackerOptions<expressAdapter.ExpressRequest>);
      const serverErrors: unknown[] = [];
      const app = express();
      app.use(middleware);
      app.get('/case/:n', (req, res) => {
        route(Number(req.params.n), {
          track: (name, properties) => (req.track as (n: unknown, p?: unknown) => void)(name, properties),
          setUser: (id) => void ((req as WithUser)[USER] = id),
          identify: (id) => void expressAdapter.identifyUser(req, id as string),
        });
        res.json({ ok: true });
      });
      app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
        serverErrors.push(error);
        res.status(500).end();
      });
      const server = app.listen(0, '127.0.0.1');
      await listening(server);
      return { server, tracker: middleware.tracker, serverErrors, close: async () => void server.close() };
    },
  ],
  [
    'Koa',
    async (options, route) => {
      const middleware = koaAdapter.tracking({
        ...options,
        getUserId: (ctx) => corpusUserId(ctx as WithUser, ctx.headers),
      } as TrackerOptions<koaAdapter.KoaContext>);
      const serverErrors: unknown[] = [];
      const app = new Koa();
      app.silent = true;
      app.on('error', (error: unknown) => serverErrors.push(error));
      app.use(middleware);
      app.use((ctx) => {
        const match = /^\/case\/(\d+)$/.exec(ctx.path);
        if (!match) return;
        route(Number(match[1]), {
          track: (name, properties) => (ctx.track as (n: unknown, p?: unknown) => void)(name, properties),
          setUser: (id) => void ((ctx as WithUser)[USER] = id),
          identify: (id) => void koaAdapter.identifyUser(ctx, id as string),
        });
        ctx.body = { ok: true };
      });
      const server = app.listen(0, '127.0.0.1');
      await listening(server);
      return { server, tracker: middleware.tracker, serverErrors, close: async () => void server.close() };
    },
  ],
  [
    'Fastify',
    async (options, route) => {
      const app = Fastify();
      const serverErrors: unknown[] = [];
      app.setErrorHandler((error, _request, reply) => {
        serverErrors.push(error);
        void reply.code(500).send();
      });
      await app.register(fastifyAdapter.tracking, {
        ...options,
        getUserId: (request) => corpusUserId(request as WithUser, request.headers),
      } as fastifyAdapter.FastifyTrackingOptions);
      app.get<{ Params: { n: string } }>('/case/:n', async (req) => {
        route(Number(req.params.n), {
          track: (name, properties) => (req.track as (n: unknown, p?: unknown) => void)(name, properties),
          setUser: (id) => void ((req as WithUser)[USER] = id),
          identify: (id) => void fastifyAdapter.identifyUser(req, id as string),
        });
        return { ok: true };
      });
      await app.listen({ port: 0, host: '127.0.0.1' });
      return { server: app.server, tracker: app.idstitch, serverErrors, close: () => app.close() };
    },
  ],
];

describe.each(FRAMEWORKS)('hostile input through %s into the collector', (framework, serve) => {
  let collector: Collector;
  let served: Served;
  let current = -1;
  const reported = new Map<number, IdstitchError[]>();
  const responses = new Map<number, request.Response>();
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    // keepIp: store the `ip` idstitch sent (the collector drops it by default, as Mixpanel does).
    collector = await startCollector({ port: 0, storage: ':memory:', keepIp: true });
    served = await serve(
      {
        apiHost: collector.url,
        token: 'hostile-token',
        onError: (error) => {
          const list = reported.get(current) ?? [];
          list.push(error);
          reported.set(current, list);
        },
      },
      (n, on) => {
        CASES[n]!.act?.(on);
        on.track('Control', { case: n });
      },
    );
    // One request per case, in order, so each report belongs to the case that caused it.
    for (let i = 0; i < CASES.length; i++) {
      current = i;
      let call = request(served.server).get(`/case/${i}`);
      for (const [name, value] of Object.entries(CASES[i]!.headers ?? {})) call = call.set(name, value);
      responses.set(i, await call);
    }
    current = -1;
    await served.tracker.flush();
  }, 60_000);

  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await served?.tracker.shutdown({ timeoutMs: 2000 });
    await served?.close();
    await collector?.close();
  });

  /** The Control events the collector stored, by case number. */
  function controls(): Map<number, Record<string, unknown>> {
    const out = new Map<number, Record<string, unknown>>();
    for (const row of collector.store.allEvents()) {
      if (row.event !== 'Control') continue;
      const properties = JSON.parse(row.properties) as Record<string, unknown>;
      out.set(properties.case as number, { ...properties, $device_id: row.deviceId, $user_id: row.userId ?? undefined });
    }
    return out;
  }

  it(`has at least 50 cases (${CASES.length})`, () => {
    expect(CASES.length).toBeGreaterThanOrEqual(50);
  });

  it(`never answers 500, never rejects unhandled, never pollutes Object.prototype (${framework})`, () => {
    const statuses = [...responses].filter(([, r]) => r.status !== 200).map(([i, r]) => `${CASES[i]!.name}: ${r.status}`);
    expect(statuses).toEqual([]);
    expect(served.serverErrors).toEqual([]);
    expect(unhandled).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('delivers every Control event, and the collector rejected none of what idstitch sent', () => {
    const stats = served.tracker.stats();
    expect(controls().size, 'Control events stored').toBe(CASES.length);
    expect(stats.dropped.rejected, 'records the collector refused').toBe(0);
    expect(stats.dropped.invalid_event, 'events refused before queueing').toBe(
      CASES.filter((c) => c.codes?.some((code) => code !== 'IDSTITCH_INVALID_USER_ID' && code !== 'IDSTITCH_GET_USER_ID_FAILED')).length,
    );
  });

  it.each(CASES.map((c, i) => [i, c.name] as const))('case %i — %s', (i) => {
    const hostile = CASES[i]!;
    const response = responses.get(i)!;
    const codes = (reported.get(i) ?? []).map((error) => error.code);
    expect(codes, 'reported codes').toEqual(hostile.codes ?? []);

    const control = controls().get(i);
    expect(control, 'Control event delivered').toBeDefined();
    const deviceId = control!.$device_id as string;
    expect(deviceId).toMatch(UUID_V4);
    const setCookie = ([] as string[]).concat(response.headers['set-cookie'] ?? []);
    const ours = setCookie.filter((line) => line.startsWith('idstitch_device='));
    if (hostile.device === 'replaced') {
      expect(ours, 'one new device cookie').toHaveLength(1);
      expect(ours[0]).toBe(`${ours[0]!.split(';')[0]}; Max-Age=34560000; Path=/; HttpOnly; SameSite=Lax`);
      expect(ours[0]!.split(';')[0]).toBe(`idstitch_device=${deviceId}`);
      // The hostile value is never echoed back.
      const sent = hostile.headers?.cookie;
      if (sent)
        for (const part of sent.split(';'))
          if (part.trim().startsWith('idstitch_device=') && part.trim() !== `idstitch_device=${deviceId}`)
            expect(setCookie.join('\n')).not.toContain(part.trim().slice('idstitch_device='.length) || '\u0000');
    } else if (hostile.userId !== undefined) {
      // Signed in: the same device id, now remembering its user's tag (guardUserSwitch).
      expect(ours, 'the cookie rewritten once with the user tag').toHaveLength(1);
      expect(ours[0]).toMatch(new RegExp(`^idstitch_device=${hostile.device}\\.[A-Za-z0-9_-]{11};`));
      expect(deviceId).toBe(hostile.device);
    } else {
      expect(ours, 'no new device cookie').toHaveLength(0);
      expect(deviceId).toBe(hostile.device);
    }
    expect(control!.$user_id).toBe(hostile.userId);
    expect(control!.ip, 'ip "0": no client address from headers, and no geolocating the server').toBe('0');
  });

  it('delivers the hostile-looking events that are valid: escaped strings, a Date as ISO text, a name at the 255-character limit', () => {
    const rows = collector.store.allEvents().filter((row) => row.event === 'Hostile OK' || row.event === 'e'.repeat(255));
    const properties = rows.map((row) => JSON.parse(row.properties) as Record<string, unknown>);
    expect(properties.map((p) => p.s).filter(Boolean)).toEqual(['\uD800\u0000\u001f"\\']);
    expect(properties.map((p) => p.when).filter(Boolean)).toEqual(['1970-01-01T00:00:00.000Z']);
    expect(rows.map((row) => row.event.length)).toContain(255);
  });
});

// idstitch/next: tracking in Next.js (App Router and Pages Router API routes) on the Node.js runtime.
// The device id is best issued earlier, by idstitch/next/proxy, so Server Components (which cannot
// set cookies) always find one; without the proxy, Route Handlers, Server Actions and Pages API
// routes issue it themselves.
import type { IncomingMessage } from 'node:http';
import type { NextApiRequest, NextApiResponse } from 'next';
import { cookies, headers } from 'next/headers.js';
import { after, type NextRequest } from 'next/server.js';
import type { NormalizedCookie } from '../src/cookie-config.js';
import { ConfigError, IdstitchError, UserIdError } from '../src/errors.js';
import { describe, rejectUnknown } from '../src/option-checks.js';
import type { TrackerOptions } from '../src/options.js';
import { consentAnswer, consentFailed, type PrivacyOptions } from '../src/privacy.js';
import { NodeRequestContext, socketClient, socketIsSecure, type NodeClient, type RequestContext } from '../src/request-context.js';
import { clientIpFromForwardedFor } from '../src/request-properties.js';
import type { RequestScope } from '../src/request-scope.js';
import type { People } from '../src/people.js';
import { createTracker, isTracker, type Tracker } from '../src/tracker.js';

export { createTracker, type People, type Tracker, type TrackerOptions };

/** What `getUserId` may return: the app's stable user id, or nothing when anonymous. */
export type UserIdValue = string | number | bigint | null | undefined;

/** Where `getUserId` is asked, with what that place has. */
export type UserIdSource =
  /** A Route Handler wrapped in `withTracking`. */
  | { readonly type: 'route'; readonly request: NextRequest }
  /** A Server Component or Server Action (`getTracking`, `actionTracking`): use `cookies()`, `headers()` or your auth's `auth()`. */
  | { readonly type: 'server' }
  /** A Pages Router API route wrapped in `withApiTracking`. */
  | { readonly type: 'api'; readonly req: NextApiRequest; readonly res: NextApiResponse };

/**
 * Resolves the signed-in user's stable id (never an e-mail); may be async. Called at most once per
 * request, before the handler runs; `undefined` or `null` means anonymous.
 *
 * Auth.js v5: its session has no user id by default; copy it in the callbacks
 * (`jwt({ token, user }) { if (user) token.id = user.id; return token }`,
 * `session({ session, token }) { session.user.id = token.id; return session }`), then
 * ```ts
 * getUserId: async (source) => (source.type === 'api' ? await auth(source.req, source.res) : await auth())?.user?.id
 * ```
 * Clerk (with `clerkMiddleware()` in the proxy: `withDeviceId(clerkMiddleware())`):
 * ```ts
 * getUserId: async (source) => (source.type === 'api' ? getAuth(source.req) : await auth()).userId
 * ```
 * Next's `redirect()` / `notFound()` thrown here pass through; any other error is reported
 * (`IDSTITCH_GET_USER_ID_FAILED`) and the request is anonymous.
 */
export type NextGetUserId = (source: UserIdSource) => UserIdValue | Promise<UserIdValue>;

/** The Next-specific options; with a `Tracker`, pass them as `nextTracking`'s second argument. */
export interface NextAdapterOptions {
  /** The user id, per request. Default: none (every request anonymous until `identify(id)`). */
  getUserId?: NextGetUserId;
  /**
   * Flush the queue after each response with Next's `after()`, so a serverless instance that is
   * frozen after the response has already sent its events. Default `true`. On a long-lived
   * `next start` server under heavy traffic, `false` leaves batching to `flushIntervalMs`.
   */
  flushAfterResponse?: boolean;
  /**
   * How many proxies in front of Next append to `X-Forwarded-For` (a load balancer, a CDN; 1 on
   * Vercel, which overwrites the header). With `requestProperties.ip`, the client address is the
   * entry that many places from the right. Default 0: Next has no proxy-trust setting and fills the
   * header only when it is absent, so a value the client wrote reaches the app verbatim; no address
   * is taken from it (Route Handlers and Server Components send `ip: "0"`, Pages API routes the
   * socket's peer). Right only when Next cannot be reached around those proxies.
   */
  trustProxy?: number;
}

/** Tracker options (all of `createTracker`'s but `getUserId`) plus the Next-specific ones. */
/** `privacy` as everywhere, with a `consent` that receives what `getUserId` receives and may be async (awaited once per request). */
export interface NextPrivacyOptions extends Omit<PrivacyOptions, 'consent'> {
  consent?: (source: UserIdSource) => boolean | Promise<boolean>;
}

export interface NextTrackingOptions extends Omit<TrackerOptions, 'getUserId' | 'privacy'>, NextAdapterOptions {
  privacy?: NextPrivacyOptions;
}

/** One request's tracking, in any of the places below. Its methods are bound: destructure freely. */
export interface Tracking {
  /** Tracks an event with this request's `$device_id` (and `$user_id` when signed in). Synchronous; never throws. */
  readonly track: (event: string, properties?: Record<string, unknown>) => void;
  /**
   * On signup or login: links this browser's device id to the user (one event carrying both ids).
   * Later events of the request carry the user id. Pass the id: `getUserId` ran before your login
   * code, so it does not know the user yet. Returns the id linked, or undefined (reported).
   */
  readonly identify: (userId?: string | number) => string | undefined;
  /**
   * On logout: a new device id for this browser and no user for the rest of the request. Needs a
   * writable place (Route Handler, Server Action, API route); in a Server Component it is counted
   * (`identity.unwritable`) and reported (`IDSTITCH_COOKIE_READ_ONLY`), never thrown.
   */
  readonly reset: () => void;
  /** This request's `$device_id`. */
  readonly deviceId: string;
  /** This request's `$user_id`, or undefined when anonymous. */
  readonly userId: string | undefined;
  /**
   * Profile updates for the user. While the browser is anonymous they are held in a signed cookie
   * and sent when `identify` runs, so no `$device:` profile is created; in a Server Component
   * (read-only) an anonymous update is counted (`profiles.notHeld`) and reported.
   */
  readonly people: People;
  /** Super properties for the rest of this request's events (each event's own win). */
  readonly register: (properties: Record<string, unknown>) => void;
}

/** A Route Handler that tracks: Next's `(request, context)` plus `context.tracking`. */
export type TrackedRouteHandler<C> = (request: NextRequest, context: C & { tracking: Tracking }) => Response | Promise<Response>;

/** A Pages Router API route that tracks: Next's `(req, res)` plus `tracking`. */
export type TrackedApiHandler = (req: NextApiRequest, res: NextApiResponse, tracking: Tracking) => unknown;

export interface NextTracking {
  /** The tracker behind it all: `flush()`, `shutdown()`, `stats()`. One per process for the same options. */
  readonly tracker: Tracker;
  /**
   * Wraps a Route Handler. The device cookie (new or rotated) is added to the response the
   * handler returns — on a copy when its headers are immutable (`Response.redirect`) — keeping its
   * own Set-Cookie lines. Errors the handler throws, Next's `redirect()` and `notFound()` included,
   * pass through unchanged (a pending cookie then goes through `cookies()`, which Next adds to
   * its redirect).
   *
   * ```ts
   * export const POST = withTracking(async (request, { tracking }) => {
   *   tracking.track('Checkout Started', { plan: 'pro' });
   *   return Response.json({ ok: true });
   * });
   * ```
   */
  withTracking<C = unknown>(handler: TrackedRouteHandler<C>): (request: NextRequest, context: C) => Promise<Response>;
  /**
   * Tracking in a Server Component (or anywhere read-only): never sets a cookie. A request that
   * came without a device id (no idstitch/next/proxy) tracks under one the browser never keeps:
   * counted as `identity.unwritable`, never thrown. Like `cookies()`, it makes the route dynamic.
   * Calls within one request share one identity and one `getUserId` call.
   *
   * ```tsx
   * export default async function Pricing() {
   *   (await getTracking()).track('Viewed Pricing');
   *   return <main>…</main>;
   * }
   * ```
   */
  getTracking(): Promise<Tracking>;
  /**
   * Tracking in a Server Action: like `getTracking`, and the cookie is written through
   * `cookies().set` when the id is new (no proxy) or rotated by `reset()`.
   *
   * ```ts
   * 'use server';
   * export async function logOut() {
   *   const tracking = await actionTracking();
   *   tracking.track('Logged Out');
   *   tracking.reset();
   *   await signOut();
   * }
   * ```
   */
  actionTracking(): Promise<Tracking>;
  /**
   * Wraps a Pages Router API route: `(req, res, tracking)`. The cookie goes out with the response
   * headers, keeping the route's own Set-Cookie lines.
   */
  withApiTracking(handler: TrackedApiHandler): (req: NextApiRequest, res: NextApiResponse) => Promise<void>;
}

const ADAPTER_OPTION_NAMES: ReadonlyArray<keyof NextAdapterOptions> = ['getUserId', 'flushAfterResponse', 'trustProxy'];

/**
 * Tracking for a Next.js app. Call it once, in a module of your own, and import what it returns:
 *
 * ```ts
 * // lib/tracking.ts
 * import { nextTracking } from 'idstitch/next';
 * import { auth } from '@/auth';
 * export const { withTracking, getTracking, actionTracking, withApiTracking, tracker } = nextTracking({
 *   token: process.env.MIXPANEL_TOKEN,
 *   getUserId: async () => (await auth())?.user?.id,
 * });
 * ```
 *
 * The tracker is created once per process for the same options (functions compared by their
 * source) and kept on `globalThis`, so Next's separate server bundles and dev-mode reloads share it
 * instead of each starting a queue, while a configuration with its own `onError` gets its own. Pass a `Tracker` instead of options to manage
 * it yourself. Runs on the Node.js runtime (it sends with undici); the proxy's `idstitch/next/proxy`
 * is the part that also runs on Edge.
 */
export function nextTracking(options?: NextTrackingOptions): NextTracking;
export function nextTracking(tracker: Tracker, options?: NextAdapterOptions): NextTracking;
export function nextTracking(optionsOrTracker: NextTrackingOptions | Tracker = {}, adapterOptions?: NextAdapterOptions): NextTracking {
  let tracker: Tracker;
  let adapter: NextAdapterOptions;
  if (isTracker(optionsOrTracker)) {
    tracker = optionsOrTracker;
    adapter = checkAdapterOptions(adapterOptions ?? {});
  } else {
    if (optionsOrTracker === null || typeof optionsOrTracker !== 'object' || Array.isArray(optionsOrTracker)) {
      throw new ConfigError('options', `must be an object, got ${describe(optionsOrTracker)}`);
    }
    if (adapterOptions !== undefined) throw new ConfigError('nextTracking', 'takes a second argument only after a Tracker; put these options in the first');
    const { getUserId, flushAfterResponse, trustProxy, ...trackerOptions } = optionsOrTracker;
    adapter = checkAdapterOptions({ getUserId, flushAfterResponse, trustProxy });
    // A Next consent hook takes the source and may be async; the adapter awaits it (bind), the core never calls it.
    tracker = sharedTracker(trackerOptions as TrackerOptions);
  }
  // A Tracker made with a (synchronous or async) getUserId of its own serves as the default.
  const getUserId = adapter.getUserId ?? (tracker.config.getUserId as NextGetUserId | undefined);
  return bind(tracker, getUserId, adapter.flushAfterResponse ?? true, adapter.trustProxy ?? 0);
}

function checkAdapterOptions(options: NextAdapterOptions): NextAdapterOptions {
  if (options === null || typeof options !== 'object') throw new ConfigError('options', `must be an object, got ${describe(options)}`);
  rejectUnknown(options, ADAPTER_OPTION_NAMES, '');
  if (options.getUserId !== undefined && typeof options.getUserId !== 'function') {
    throw new ConfigError('getUserId', `must be a function (source) => userId (it may be async), got ${describe(options.getUserId)}`);
  }
  if (options.flushAfterResponse !== undefined && typeof options.flushAfterResponse !== 'boolean') {
    throw new ConfigError('flushAfterResponse', `must be true or false, got ${describe(options.flushAfterResponse)}`);
  }
  const { trustProxy } = options;
  if (trustProxy !== undefined && !(typeof trustProxy === 'number' && Number.isInteger(trustProxy) && trustProxy >= 0 && trustProxy <= MAX_TRUSTED_PROXIES)) {
    throw new ConfigError('trustProxy', `must be the number of proxies in front of Next, an integer 0–${MAX_TRUSTED_PROXIES} (never true: the left-most X-Forwarded-For entry is the client's to write), got ${describe(trustProxy)}`);
  }
  return options;
}

/** Trackers by their options, under a registry symbol: every bundle and every copy of idstitch finds the same map. */
const TRACKERS = Symbol.for('idstitch.next.trackers');

function sharedTracker(options: TrackerOptions): Tracker {
  const registry = globalThis as { [TRACKERS]?: Map<string, Tracker> };
  const trackers = (registry[TRACKERS] ??= new Map());
  let key: string;
  try {
    // Next evaluates the app's tracking module once per server bundle and again on each dev reload:
    // the same code, with new function objects each time. So functions count by their source text:
    // those copies share one tracker, while two configurations whose onError (or consent, or
    // logger) differ get one each, and each handler hears only its own tracker's errors.
    key = JSON.stringify(options, (_name, value: unknown) => (typeof value === 'function' ? `function ${String(value)}` : typeof value === 'bigint' ? `${value}n` : value));
  } catch {
    return createTracker(options); // options JSON cannot describe (a cycle): not shared
  }
  let tracker = trackers.get(key);
  if (tracker === undefined) {
    tracker = createTracker(options);
    trackers.set(key, tracker);
  }
  return tracker;
}

type CookieStore = Awaited<ReturnType<typeof cookies>>;

/** What one request's `getTracking` / `actionTracking` calls share, keyed by that request's cookie store. */
interface ServerRequest {
  readonly userId: Promise<unknown>;
  readonly consented: Promise<boolean | undefined>;
  component?: Tracking;
  action?: Tracking;
  flushScheduled?: boolean;
}

function bind(tracker: Tracker, getUserId: NextGetUserId | undefined, flushAfterResponse: boolean, trustProxy: number): NextTracking {
  const cookie = tracker.config.cookie;
  const apiClient = nextApiClient(trustProxy);
  // Next hands out one cookie store per request phase; a Server Action's cookies() and the render
  // after it differ (the render sees the action's changes), so each gets its own identity.
  const serverRequests = new WeakMap<CookieStore, ServerRequest>();

  async function resolveUserId(source: UserIdSource): Promise<unknown> {
    if (getUserId === undefined) return undefined;
    try {
      return await getUserId(source);
    } catch (error) {
      if (isNextControlFlow(error)) throw error;
      tracker.counters.identity.userIdResolverErrors++;
      tracker.reporter.report(
        new UserIdError('IDSTITCH_GET_USER_ID_FAILED', `getUserId threw (${(error as Error)?.message ?? String(error)}); the request is treated as anonymous`, { cause: error }),
      );
      return undefined;
    }
  }

  /** `privacy.consent`, awaited once per request like getUserId; undefined when there is none. */
  async function resolveConsent(source: UserIdSource): Promise<boolean | undefined> {
    const consent = tracker.config.privacy.consent as ((source: UserIdSource) => unknown) | undefined;
    if (consent === undefined) return undefined;
    try {
      return consentAnswer(await consent(source), tracker.reporter);
    } catch (error) {
      if (isNextControlFlow(error)) throw error;
      return consentFailed(tracker.reporter, error);
    }
  }

  function scheduleFlush(): void {
    if (!flushAfterResponse) return;
    const flush = (): Promise<void> => tracker.flush();
    try {
      after(flush);
      return;
    } catch {
      // Outside an App Router request (Pages API routes, tests): no after().
    }
    const waitUntil = platformWaitUntil();
    if (waitUntil) waitUntil(flush());
    else void flush(); // a long-lived server: start sending now; flush() never rejects
  }

  async function serverTracking(kind: 'component' | 'action'): Promise<Tracking> {
    const [store, headerList] = await Promise.all([cookies(), headers()]);
    let request = serverRequests.get(store);
    if (request === undefined) {
      request = { userId: resolveUserId({ type: 'server' }), consented: resolveConsent({ type: 'server' }) };
      serverRequests.set(store, request);
    }
    const [userId, consented] = await Promise.all([request.userId, request.consented]);
    const existing = request[kind];
    if (existing) return existing;
    const context = new CookieStoreContext(store, headerList, cookie, kind === 'component', trustProxy);
    const tracking = trackingFor(tracker.scope(context, undefined, undefined, { userId, consented }), context.commit);
    request[kind] = tracking;
    if (!request.flushScheduled) {
      // One flush per request: after() runs it once everything has rendered and been tracked.
      request.flushScheduled = true;
      scheduleFlush();
    }
    context.commit();
    return tracking;
  }

  return {
    tracker,

    withTracking<C = unknown>(handler: TrackedRouteHandler<C>) {
      if (typeof handler !== 'function') throw new ConfigError('withTracking', `takes your route handler function, got ${describe(handler)}`);
      return async function trackedRouteHandler(request: NextRequest, context: C): Promise<Response> {
        const source = { type: 'route', request } as const;
        const [userId, consented] = await Promise.all([resolveUserId(source), resolveConsent(source)]);
        const route = new RouteContext(request, cookie, trustProxy);
        const tracking = trackingFor(tracker.scope(route, request, undefined, { userId, consented }), noop);
        let response: Response;
        try {
          response = await handler(request, { ...(context as object), tracking } as C & { tracking: Tracking });
        } catch (error) {
          await route.failed();
          throw error;
        } finally {
          scheduleFlush();
        }
        return route.finish(response);
      };
    },

    getTracking: () => serverTracking('component'),

    actionTracking: () => serverTracking('action'),

    withApiTracking(handler: TrackedApiHandler) {
      if (typeof handler !== 'function') throw new ConfigError('withApiTracking', `takes your API route handler function, got ${describe(handler)}`);
      return async function trackedApiRoute(req: NextApiRequest, res: NextApiResponse): Promise<void> {
        const source = { type: 'api', req, res } as const;
        const [userId, consented] = await Promise.all([resolveUserId(source), resolveConsent(source)]);
        const tracking = trackingFor(tracker.scope(new NodeRequestContext(req, res, forwardedIsSecure, apiClient), req, undefined, { userId, consented }), noop);
        try {
          await handler(req, res, tracking);
        } finally {
          scheduleFlush();
        }
      };
    },
  };
}

/** `commit` runs after each change, for contexts that write as they go (Server Actions). */
function trackingFor(scope: RequestScope, commit: () => void): Tracking {
  return {
    track: scope.track,
    identify: (userId) => {
      const linked = scope.identify(userId);
      commit();
      return linked;
    },
    reset: () => {
      scope.reset();
      commit();
    },
    get deviceId() {
      return scope.deviceId;
    },
    get userId() {
      return scope.userId;
    },
    people: {
      set: (properties) => (scope.people.set(properties), commit()),
      setOnce: (properties) => (scope.people.setOnce(properties), commit()),
      increment: (properties) => (scope.people.increment(properties), commit()),
      append: (properties) => (scope.people.append(properties), commit()),
      union: (properties) => (scope.people.union(properties), commit()),
      unset: (names) => (scope.people.unset(names), commit()),
    },
    register: scope.register,
  };
}

function noop(): void {}

/**
 * A Route Handler's request and the response it returns. The core asks for the cookie while the
 * handler runs; it is written once the response exists (`finish`), on a copy if Fetch made that
 * response's headers immutable.
 */
class RouteContext implements RequestContext {
  readonly #request: Request;
  readonly #cookie: NormalizedCookie;
  readonly #listeners: Array<() => void> = [];
  #response: Response | undefined;
  /** Set when the handler threw: cookies then go through Next's cookies(). */
  #store: CookieStore | undefined;
  #sent = false;
  readonly #trustProxy: number;

  constructor(request: Request, cookie: NormalizedCookie, trustProxy: number) {
    this.#request = request;
    this.#cookie = cookie;
    this.#trustProxy = trustProxy;
  }

  cookieHeader(): string | undefined {
    return this.#request.headers.get('cookie') ?? undefined;
  }

  header(name: string): string | undefined {
    return this.#request.headers.get(name) ?? undefined;
  }

  requestUrl(): string | undefined {
    return this.#request.url;
  }

  /** A Route Handler has no socket: the address comes from X-Forwarded-For behind `trustProxy` proxies, or not at all. */
  clientIp(): string | undefined {
    return clientIpFromForwardedFor(this.#request.headers.get('x-forwarded-for'), this.#trustProxy);
  }

  isSecure(): boolean {
    return new URL(this.#request.url).protocol === 'https:' || forwardedProtoIsHttps(this.#request.headers.get('x-forwarded-proto'));
  }

  headersSent(): boolean {
    return this.#sent;
  }

  onHeaders(listener: () => void): void {
    this.#listeners.push(listener);
  }

  appendSetCookie(line: string): void {
    if (this.#store) setCookieFromLine(this.#store, this.#cookie, line, this.isSecure());
    else this.#edit((headers) => headers.append('set-cookie', line));
  }

  getResponseHeader(name: string): string | undefined {
    return this.#response?.headers.get(name) ?? undefined;
  }

  setResponseHeader(name: string, value: string): void {
    // With the store (a thrown redirect), Next builds the response and sets its own caching.
    if (this.#response) this.#edit((headers) => headers.set(name, value));
  }

  /** Writes what is pending to the handler's response and returns it, or the copy that carries it. */
  finish(response: Response): Response {
    if (!(response instanceof Response)) return response; // Next reports a handler that returned no Response
    this.#response = response;
    this.#writeHeaders();
    return this.#response;
  }

  /**
   * The handler threw (Next's redirect() and notFound() do): Next builds that response and adds the
   * cookies set through cookies(), so a pending device cookie goes there.
   */
  async failed(): Promise<void> {
    if (this.#listeners.length === 0) return;
    try {
      this.#store = await cookies();
    } catch {
      this.#sent = true; // not inside a Next request: there is no response left to carry it
      return;
    }
    this.#writeHeaders();
  }

  #writeHeaders(): void {
    if (this.#sent) return;
    for (const listener of this.#listeners) listener();
    this.#sent = true;
  }

  #edit(change: (headers: Headers) => void): void {
    const response = this.#response;
    if (!response) throw new IdstitchError('IDSTITCH_INTERNAL', 'no response to write the device cookie to');
    try {
      change(response.headers);
      return;
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
    }
    // Fetch's immutable headers (Response.redirect, Response.error): copy status, body and headers.
    const copy = new Response(response.body, response);
    change(copy.headers);
    this.#response = copy;
  }
}

/**
 * A Server Component's or Server Action's request, seen through Next's `cookies()` and
 * `headers()`. Cookies are written as soon as the core asks (`commit`), since nothing signals when
 * an action's response goes out. Where Next refuses (a Server Component), the write fails with
 * `IDSTITCH_COOKIE_READ_ONLY`, which the core counts instead of throwing.
 */
class CookieStoreContext implements RequestContext {
  readonly readOnly: boolean;
  readonly #store: CookieStore;
  readonly #headers: Headers;
  readonly #cookie: NormalizedCookie;
  readonly #listeners: Array<() => void> = [];
  readonly #trustProxy: number;

  constructor(store: CookieStore, headerList: Headers, cookie: NormalizedCookie, readOnly: boolean, trustProxy: number) {
    this.#store = store;
    this.#headers = headerList;
    this.#cookie = cookie;
    this.readOnly = readOnly;
    this.#trustProxy = trustProxy;
  }

  header(name: string): string | undefined {
    return this.#headers.get(name) ?? undefined;
  }

  /** Next tells Server Components and Actions nothing about the URL (an action's Referer is the page it runs on). */
  requestUrl(): string | undefined {
    return undefined;
  }

  clientIp(): string | undefined {
    return clientIpFromForwardedFor(this.#headers.get('x-forwarded-for'), this.#trustProxy);
  }

  /**
   * Rebuilt from Next's cookie store rather than the raw header: the store also holds the device id
   * the proxy issued for this very request. Every cookie is included (the profile cookie, a browser
   * SDK's), not just the device id.
   */
  cookieHeader(): string | undefined {
    const all = this.#store.getAll();
    return all.length === 0 ? undefined : all.map((cookie) => `${cookie.name}=${cookie.value}`).join('; ');
  }

  isSecure(): boolean {
    return forwardedProtoIsHttps(this.#headers.get('x-forwarded-proto'));
  }

  headersSent(): boolean {
    return false;
  }

  onHeaders(listener: () => void): void {
    this.#listeners.push(listener);
  }

  readonly commit = (): void => {
    for (const listener of this.#listeners) listener();
  };

  appendSetCookie(line: string): void {
    try {
      setCookieFromLine(this.#store, this.#cookie, line, this.isSecure());
    } catch (error) {
      throw new IdstitchError(
        'IDSTITCH_COOKIE_READ_ONLY',
        `Next refused to set the device cookie (${(error as Error)?.message ?? String(error)}): use actionTracking() only in Server Actions, getTracking() in Server Components`,
        { cause: error },
      );
    }
  }

  getResponseHeader(): string | undefined {
    return undefined;
  }

  setResponseHeader(): void {
    // A Server Action answers a POST, which no shared cache stores: nothing to mark private.
  }
}

/** Sets our own Set-Cookie line through Next's cookie API, which takes fields rather than a line. */
function setCookieFromLine(store: CookieStore, cookie: NormalizedCookie, line: string, secure: boolean): void {
  const end = line.indexOf(';');
  const { fields } = cookie;
  store.set({
    name: cookie.name,
    value: line.slice(cookie.prefix.length, end === -1 ? undefined : end),
    httpOnly: true,
    path: fields.path,
    sameSite: fields.sameSite,
    secure: secure ? fields.secure.secure : fields.secure.insecure,
    ...(fields.domain !== undefined ? { domain: fields.domain } : {}),
    ...(fields.maxAge !== undefined ? { maxAge: fields.maxAge } : {}),
  });
}

/**
 * Next itself fills in `x-forwarded-proto` for every request it serves (from the socket when no
 * proxy set it) and reads it this way. A client that lies about it only gets a cookie its own
 * browser will not keep.
 */
function forwardedProtoIsHttps(value: string | null | undefined): boolean {
  return value !== null && value !== undefined && value.includes('https');
}

/** Proxies a request can pass through before Next; more is a misconfiguration, not a topology. */
const MAX_TRUSTED_PROXIES = 32;

/** A Pages API route has a socket: its peer unless proxies are trusted, then their X-Forwarded-For. */
function nextApiClient(trustProxy: number): NodeClient {
  return {
    ip: (req) => {
      if (trustProxy === 0) return socketClient.ip(req);
      const forwarded = req.headers['x-forwarded-for'];
      return clientIpFromForwardedFor(Array.isArray(forwarded) ? forwarded.join(',') : forwarded, trustProxy);
    },
    url: socketClient.url,
  };
}

function forwardedIsSecure(req: IncomingMessage): boolean {
  const proto = req.headers['x-forwarded-proto'];
  return socketIsSecure(req) || forwardedProtoIsHttps(Array.isArray(proto) ? proto[0] : proto);
}

/** Where serverless hosts put `waitUntil` for Next (after.mdx, "supporting after for serverless platforms"). */
const REQUEST_CONTEXT = Symbol.for('@next/request-context');

function platformWaitUntil(): ((promise: Promise<unknown>) => void) | undefined {
  try {
    const context = (globalThis as { [REQUEST_CONTEXT]?: { get?: () => { waitUntil?: unknown } | undefined } })[REQUEST_CONTEXT]?.get?.();
    const waitUntil = context?.waitUntil;
    return typeof waitUntil === 'function' ? (waitUntil.bind(context) as (promise: Promise<unknown>) => void) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Next's redirect(), notFound(), forbidden(), unauthorized() and its dynamic-rendering bail-outs
 * throw errors marked with a string `digest` (React's postpone with `$$typeof`), possibly as the
 * `cause` of another: they must reach Next unchanged.
 */
function isNextControlFlow(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 8) return false;
  if (typeof (error as { digest?: unknown }).digest === 'string') return true;
  if ((error as { $$typeof?: unknown }).$$typeof === Symbol.for('react.postpone')) return true;
  return isNextControlFlow((error as { cause?: unknown }).cause, depth + 1);
}

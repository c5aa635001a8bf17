import { IncomingMessage, type ServerResponse } from 'node:http';
import type { People } from '../src/people.js';
import { ConfigError, IdstitchError } from '../src/errors.js';
import type { TrackerOptions } from '../src/options.js';
import { NodeRequestContext, socketClient, socketIsSecure, type NodeClient } from '../src/request-context.js';
import type { RequestScope } from '../src/request-scope.js';
import { createTracker, isTracker, type Tracker } from '../src/tracker.js';

export { createTracker, type People, type Tracker, type TrackerOptions };

/** Tracks an event with the request's `$device_id` (and `$user_id` when signed in). Never throws. */
export type TrackFunction = (event: string, properties?: Record<string, unknown>) => void;

declare global {
  // Declaration merging, as @types/passport and express-session do: importing idstitch/express
  // gives every Express request a typed `track`.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Added by idstitch's `tracking()` middleware. */
      track: TrackFunction;
      /** Profile updates for the request's user (held in a cookie until sign-in while anonymous). Added by `tracking()`. */
      people: People;
      /** Super properties for the rest of this request's events. Added by `tracking()`. */
      register: (properties: Record<string, unknown>) => void;
    }
  }
}

/**
 * Where a request's scope is kept, under a registry symbol so the ESM and CommonJS builds find the
 * same one. Under Express, in `res.locals` (Express's per-request object for the app's own data),
 * and `req.track`, `req.people` and `req.register` are accessors on Express's request prototype
 * that find it there. Nothing is added to the request itself: under Express every request object
 * has a hidden class of its own (each property added after `Object.setPrototypeOf` moved it onto
 * `app.request` builds a class no other request shares, and Express's router adds several), so a
 * property added to one costs V8 a new class, about 2 KB that lives long enough to be promoted,
 * and every read of one misses V8's inline caches.
 * `res.locals` is a dictionary object (`Object.create(null)`), where a new key costs no new class.
 * Measured under callgrind: about 20,000 fewer instructions per request, over 4,000-request
 * windows (since found too short to settle a few percent; see bench/instructions.ts). A WeakMap
 * keyed by the request costs more still: it keeps the key alive through every young-generation GC
 * (+2.7 KB promoted per request). On bare `node:http` (no `res.locals`), the scope hangs off the
 * request's own `track` function.
 */
const SCOPE = Symbol.for('idstitch.scope');

type ScopedTrack = TrackFunction & { [SCOPE]?: RequestScope };
type Locals = Record<symbol, RequestScope | undefined>;
type TrackedRequest = IncomingMessage & { res?: { locals?: Locals }; secure?: unknown; user?: unknown; auth?: unknown; ip?: unknown; hostname?: unknown; originalUrl?: unknown };

export type TrackingMiddleware = ((req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void) & {
  /** The tracker behind the middleware: `flush()`, `shutdown()`, `stats()`. */
  readonly tracker: Tracker;
};

/**
 * The Express middleware (also fine on bare `node:http`: `(req, res, next?)`).
 * `app.use(tracking({ token }))` gives each browser a device id cookie and each request `req.track`.
 * Pass a `Tracker` instead of options to share one across apps.
 */
/**
 * What `getUserId` and `privacy.consent` receive: the Express request, with whatever your other
 * middleware's types add to it (Passport's `user`, express-session's `session`, cookie-parser's `cookies`).
 */
export type ExpressRequest = IncomingMessage & Express.Request;

export function tracking(options?: TrackerOptions<ExpressRequest> | Tracker): TrackingMiddleware {
  if (options && typeof options === 'object' && 'socket' in options && 'headers' in options) {
    throw new ConfigError('tracking', 'was mounted without being called: write app.use(tracking()), not app.use(tracking)');
  }
  const tracker = isTracker(options) ? options : createTracker(options as TrackerOptions<never> | undefined);

  function idstitchTracking(req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void {
    const locals = expressLocals(req, res);
    // Mounted twice (a router and the app, say): the first one owns the request.
    if ((locals === undefined ? ownScope(req) : locals[SCOPE]) === undefined) {
      try {
        const scope = tracker.scope(new NodeRequestContext(req, res, isSecure, expressClient), req, expressUserId);
        if (locals !== undefined) locals[SCOPE] = scope;
        else {
          const track: ScopedTrack = scope.track;
          track[SCOPE] = scope;
          Object.assign(req, { track, people: scope.people, register: scope.register });
        }
      } catch (error) {
        // Tracking must never fail the request it rides on.
        tracker.reporter.report(new IdstitchError('IDSTITCH_INTERNAL', `idstitch could not attach to the request: ${(error as Error)?.message}`, { cause: error }));
        // Own, so it wins over the prototype's accessor (which would warn as if not mounted).
        Object.assign(req, { track: noTrack });
      }
    }
    next?.();
  }
  return Object.assign(idstitchTracking, { tracker });
}

/**
 * On signup or login: links this browser's device id to the user. Sends one event carrying both
 * ids (Mixpanel merges them, retroactively); later events of the request carry the user id.
 * `userId` defaults to `getUserId(req)` (Express: `req.user.id`, then `req.auth.sub`).
 * Returns the linked user id, or undefined when there was none (reported to `onError`).
 */
export function identifyUser(req: IncomingMessage, userId?: string | number): string | undefined {
  return scopeOf(req, 'identifyUser')?.identify(userId);
}

/** On logout: a new device id for this browser (the SDK's `.reset()`), and no user id for the rest of the request. */
export function resetUser(req: IncomingMessage): void {
  scopeOf(req, 'resetUser')?.reset();
}

/** The request's identity: `{ deviceId, userId }`, or undefined when the middleware did not run. */
export function identityOf(req: IncomingMessage): { deviceId: string; userId: string | undefined } | undefined {
  const scope = scopeFor(req);
  return scope ? { deviceId: scope.deviceId, userId: scope.userId } : undefined;
}

/**
 * The request's `res.locals` when Express set it up (Express links `req.res` to the response and
 * gives it `locals`) and the request's prototype has idstitch's accessors; otherwise undefined, and
 * the scope goes on the request itself (bare `node:http`, or an app that made `res.locals` frozen).
 */
function expressLocals(req: IncomingMessage, res: ServerResponse): Locals | undefined {
  const locals = (res as { locals?: unknown }).locals;
  if (locals === null || typeof locals !== 'object' || (req as TrackedRequest).res !== res || !Object.isExtensible(locals)) return undefined;
  return accessorsOn(req) ? (locals as Locals) : undefined;
}

/** The scope the middleware gave this request, wherever it keeps it (none for a missing request). */
function scopeFor(req: IncomingMessage | undefined | null): RequestScope | undefined {
  if (req === undefined || req === null) return undefined;
  return (req as TrackedRequest).res?.locals?.[SCOPE] ?? ownScope(req);
}

/** The scope on the request's own `track` (bare `node:http`); an app's own `req.track` has none. */
function ownScope(req: IncomingMessage): RequestScope | undefined {
  return Object.prototype.hasOwnProperty.call(req, 'track') ? (req as { track?: ScopedTrack }).track?.[SCOPE] : undefined;
}

/**
 * Express prototypes seen, and whether `req.track` there is idstitch's accessor (false where another
 * library already defined a `track` of its own: then the request gets idstitch's as its own property).
 */
const withAccessors = new WeakMap<object, boolean>();

/** `req.track` on a request whose scope cannot be found: does nothing, and says so once. */
function lostTrack(): void {
  warnNotMounted('req.track');
}

/**
 * `req.track`, `req.people` and `req.register` without a property added per request: accessors on
 * Express's request prototype (`express.request`, which its guide names as the place to extend the
 * API), installed once, found by walking up from the request to Node's IncomingMessage. Assigning
 * one (a test's stub, say) gives that request its own property, as if there were no accessor.
 * False on bare `node:http`, where the request gets them as its own properties.
 */
function accessorsOn(req: IncomingMessage): boolean {
  const direct = Object.getPrototypeOf(req) as object | null;
  // The app's own prototype, remembered too: later requests skip the walk.
  const known = direct === null ? undefined : withAccessors.get(direct);
  if (known !== undefined) return known;
  if (direct === null || direct === IncomingMessage.prototype) return false;
  let proto = direct;
  let up = Object.getPrototypeOf(proto) as object | null;
  for (; up !== null && up !== IncomingMessage.prototype; up = Object.getPrototypeOf(up) as object | null) proto = up;
  // Not a node:http request underneath (a plain object, HTTP/2's compatibility request): the top of
  // its chain may be Object.prototype itself, which must never get accessors.
  if (up === null) {
    withAccessors.set(direct, false);
    return false;
  }
  const installed = withAccessors.get(proto) ?? installAccessors(proto);
  withAccessors.set(proto, installed);
  // An app's own prototype (`app.request`) may define a `track` of its own, which hides idstitch's.
  let mine = installed;
  for (let level: object | null = direct; mine && level !== null && level !== proto; level = Object.getPrototypeOf(level) as object | null) {
    if (Object.prototype.hasOwnProperty.call(level, 'track')) mine = false;
  }
  withAccessors.set(direct, mine);
  return mine;
}

/** Defines the accessors on `proto`; true when `track` is idstitch's there. */
function installAccessors(proto: object): boolean {
  let tracks = true;
  for (const name of ['track', 'people', 'register'] as const) {
    if (Object.prototype.hasOwnProperty.call(proto, name)) {
      if (name === 'track') tracks = false;
      continue; // someone else's: leave it
    }
    Object.defineProperty(proto, name, {
      configurable: true,
      get(this: IncomingMessage) {
        const scope = scopeFor(this);
        if (scope !== undefined) return scope[name];
        return name === 'track' ? lostTrack : undefined;
      },
      set(this: IncomingMessage, value: unknown) {
        Object.defineProperty(this, name, { value, writable: true, enumerable: true, configurable: true });
      },
    });
  }
  return tracks;
}

/** Express's trust-proxy-aware `req.secure`; on bare node:http, whether the socket is TLS. */
function isSecure(req: IncomingMessage): boolean {
  const secure = (req as TrackedRequest).secure;
  return typeof secure === 'boolean' ? secure : socketIsSecure(req);
}

/**
 * The client as Express's `trust proxy` decides: `req.ip` (the socket's peer by default; with trust,
 * the nearest untrusted `X-Forwarded-For` entry — or, with `true`, the left-most, which the client
 * writes) and `req.hostname` (`X-Forwarded-Host` when trusted). On bare node:http, the socket and
 * the Host header.
 */
const expressClient: NodeClient = {
  ip: (req) => {
    const { ip } = req as TrackedRequest;
    return typeof ip === 'string' ? ip : socketClient.ip(req);
  },
  url: (req, secure) => {
    const { hostname, originalUrl } = req as TrackedRequest;
    if (typeof hostname !== 'string' || hostname === '') return socketClient.url(req, secure);
    // `hostname` drops the port: the Host header's goes back on when it names the same host.
    const host = req.headers.host;
    const authority = host !== undefined && host.startsWith(hostname) && (host.length === hostname.length || host[hostname.length] === ':') ? host : hostname;
    // originalUrl: a mounted router has cut its prefix off req.url by the time the first event is tracked.
    return `${secure ? 'https' : 'http'}://${authority}${typeof originalUrl === 'string' ? originalUrl : (req.url ?? '/')}`;
  },
};

/** Passport puts the user on `req.user`; express-jwt puts the token's claims on `req.auth`. */
function expressUserId(req: unknown): unknown {
  // Each read of a request is a slow one (see SCOPE), and slowest for a property it lacks, which V8
  // then looks for up the whole prototype chain; an `in` test of the same chain costs less. So a
  // signed-out request (no `user`, no `auth`) is asked twice with `in`, and nothing is read.
  const user = 'user' in (req as object) ? (req as TrackedRequest).user : undefined;
  if (typeof user === 'string' || typeof user === 'number') return user;
  if (user !== null && typeof user === 'object') {
    const id = (user as { id?: unknown }).id;
    if (id !== undefined && id !== null) return id;
  }
  const auth = 'auth' in (req as object) ? (req as TrackedRequest).auth : undefined;
  if (auth !== null && typeof auth === 'object') return (auth as { sub?: unknown }).sub;
  return undefined;
}

function scopeOf(req: IncomingMessage, caller: string): RequestScope | undefined {
  const scope = scopeFor(req);
  if (scope === undefined) warnNotMounted(`${caller}(req)`);
  return scope;
}

/** Callers already warned about: each says once that it ran where idstitch has no scope. */
const warnedNotMounted = new Set<string>();

/**
 * The scope is missing: the route runs before `tracking()`, or the app replaced `res.locals` (where
 * the scope lives under Express) after it ran. Warned once per caller; the call does nothing.
 */
function warnNotMounted(caller: string): void {
  if (warnedNotMounted.has(caller)) return;
  warnedNotMounted.add(caller);
  process.emitWarning(
    `${caller} ran on a request the idstitch tracking() middleware did not see, or whose res.locals was replaced after it ran; nothing was tracked. Mount app.use(tracking()) before your routes, and add to res.locals instead of replacing it`,
    { code: 'IDSTITCH_NOT_MOUNTED' },
  );
}

function noTrack(): void {}

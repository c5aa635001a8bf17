// idstitch/express: the middleware for Express 4 and 5, which also runs on bare node:http.
import { IncomingMessage, type ServerResponse } from 'node:http';
import { attachScope, coreOf, requestFunctions, SCOPE, scopeOn, trackerFor, warnNotMounted } from '../src/adapter.js';
import { IdstitchError } from '../src/errors.js';
import type { TrackerOptions } from '../src/options.js';
import type { People } from '../src/people.js';
import type { RequestScope } from '../src/request-scope.js';
import { NodeRequestContext, socketClient, socketIsSecure, type NodeClient } from '../src/request-context.js';
import { createTracker, type Tracker } from '../src/tracker.js';

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
 * What `getUserId` and `privacy.consent` receive: the Express request, with whatever your other
 * middleware's types add to it (Passport's `user`, express-session's `session`, cookie-parser's `cookies`).
 */
export type ExpressRequest = IncomingMessage & Express.Request;

export type TrackingMiddleware = ((req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void) & {
  /** The tracker behind the middleware: `flush()`, `shutdown()`, `stats()`. */
  readonly tracker: Tracker;
};

type TrackedRequest = IncomingMessage &
  Partial<Pick<Express.Request, 'track' | 'people' | 'register'>> & {
    secure?: unknown;
    user?: unknown;
    auth?: unknown;
    ip?: unknown;
    hostname?: unknown;
    originalUrl?: unknown;
  };

/**
 * The Express middleware (also fine on bare `node:http`: `(req, res, next?)`).
 * `app.use(tracking({ token }))` gives each browser a device id cookie and each request
 * `req.track`, `req.people` and `req.register`. Pass a `Tracker` instead of options to share one.
 *
 * Under Express they are accessors on the mounting app's own request prototype (`app.request`,
 * which Express creates per app and which apps mounted under it inherit), and each request's scope
 * sits in its `res.locals`: another app in the process sees nothing, and no request gets
 * properties of its own (every Express request has a hidden class of its own, which makes adding
 * properties to one a large part of a hello-world's cost: docs/performance.md). On bare
 * `node:http` they are the request's own properties.
 */
export function tracking(options?: TrackerOptions<ExpressRequest> | Tracker): TrackingMiddleware {
  const tracker = trackerFor(options as TrackerOptions<never> | Tracker | undefined, (value) => 'socket' in value && 'headers' in value);
  const core = coreOf(tracker);

  function idstitchTracking(req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void {
    const locals = expressLocals(req, res);
    // Mounted twice (a router and the app, say): the first one owns the request.
    if ((locals !== undefined ? locals[SCOPE] : scopeOn(req)) === undefined) {
      const tracked = req as TrackedRequest;
      try {
        const scope = core.scope(new NodeRequestContext(req, res, isSecure, expressClient), { req, defaultGetUserId: expressUserId });
        if (locals !== undefined) locals[SCOPE] = scope;
        else {
          attachScope(req, scope);
          tracked.track = scope.track;
          tracked.people = scope.people;
          tracked.register = scope.register;
        }
      } catch (error) {
        // Tracking must never fail the request it rides on.
        core.reporter.report(
          new IdstitchError('IDSTITCH_INTERNAL', `idstitch could not attach to the request: ${(error as Error)?.message}`, {
            cause: error,
          }),
        );
        tracked.track = () => undefined;
      }
    }
    next?.();
  }
  return Object.assign(idstitchTracking, { tracker });
}

type Locals = Record<symbol, RequestScope | undefined>;

/**
 * The request's `res.locals` when Express set the request up (it links `req.res` and gives the
 * response `locals`) and the request's prototype is an Express app's, carrying idstitch's accessors;
 * undefined otherwise (bare `node:http`, or a prototype that already has a `track` of its own).
 */
function expressLocals(req: IncomingMessage, res: ServerResponse): Locals | undefined {
  const locals = (res as { locals?: unknown }).locals;
  if (locals === null || typeof locals !== 'object' || (req as { res?: unknown }).res !== res) return undefined;
  return accessorsOn(Object.getPrototypeOf(req) as object | null) ? (locals as Locals) : undefined;
}

/** The scope of a request, wherever the middleware put it. */
function scopeOf(req: IncomingMessage): RequestScope | undefined {
  return scopeOn(req) ?? (req as { res?: { locals?: Locals } }).res?.locals?.[SCOPE];
}

const NAMES = ['track', 'people', 'register'] as const;
/** Request prototypes seen, and whether they carry idstitch's accessors. */
const prototypes = new WeakMap<object, boolean>();

/**
 * Installs `track`, `people` and `register` on an Express app's own request prototype, once. True
 * when they are there; false for anything else (Node's shared `IncomingMessage.prototype` above all),
 * and where another library already defined one of the names.
 */
function accessorsOn(proto: object | null): boolean {
  if (proto === null) return false;
  let installed = prototypes.get(proto);
  if (installed !== undefined) return installed;
  // Express gives each app's `app.request` an own `app`; Node's prototypes have none.
  installed = proto !== IncomingMessage.prototype && Object.hasOwn(proto, 'app') && !NAMES.some((name) => name in proto);
  if (installed) {
    for (const name of NAMES) {
      Object.defineProperty(proto, name, {
        configurable: true,
        get(this: IncomingMessage) {
          const scope = scopeOf(this);
          return scope !== undefined ? scope[name] : name === 'track' ? lostTrack : undefined;
        },
        // Assigning one (a test's stub) gives that request its own property, as without an accessor.
        set(this: IncomingMessage, value: unknown) {
          Object.defineProperty(this, name, { value, writable: true, enumerable: true, configurable: true });
        },
      });
    }
  }
  prototypes.set(proto, installed);
  return installed;
}

/** `req.track` on a request whose scope is gone (the app replaced `res.locals`): does nothing, and says so once. */
function lostTrack(): void {
  warnNotMounted('req.track', ', or whose res.locals the app replaced (add to it instead)');
}

const functions = requestFunctions<IncomingMessage>('req', scopeOf);

/**
 * On signup or login: links this browser's device id to the user. Sends one event carrying both
 * ids (Mixpanel merges them, retroactively); later events of the request carry the user id.
 * `userId` defaults to `getUserId(req)` (Express: `req.user.id`, then `req.auth.sub`).
 * Returns the linked user id, or undefined when there was none (reported to `onError`).
 */
export const identifyUser: (req: IncomingMessage, userId?: string | number) => string | undefined = functions.identifyUser;

/** On logout: a new device id for this browser (the SDK's `.reset()`), and no user id for the rest of the request. */
export const resetUser: (req: IncomingMessage) => void = functions.resetUser;

/** The request's identity: `{ deviceId, userId }`, or undefined when the middleware did not run. */
export const identityOf: (req: IncomingMessage) => { deviceId: string; userId: string | undefined } | undefined = functions.identityOf;

/** Express's trust-proxy-aware `req.secure`; on bare node:http, whether the socket is TLS. */
function isSecure(req: IncomingMessage): boolean {
  const secure = (req as TrackedRequest).secure;
  return typeof secure === 'boolean' ? secure : socketIsSecure(req);
}

/**
 * The client as Express's `trust proxy` decides: `req.ip` (the socket's peer by default; with trust,
 * the nearest untrusted `X-Forwarded-For` entry, or with `true` the left-most, which the client
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
    const authority =
      host !== undefined && host.startsWith(hostname) && (host.length === hostname.length || host[hostname.length] === ':')
        ? host
        : hostname;
    // originalUrl: a mounted router has cut its prefix off req.url by the time the first event is tracked.
    return `${secure ? 'https' : 'http'}://${authority}${typeof originalUrl === 'string' ? originalUrl : (req.url ?? '/')}`;
  },
};

/** Passport puts the user on `req.user`; express-jwt puts the token's claims on `req.auth`. */
function expressUserId(req: unknown): unknown {
  const { user, auth } = req as TrackedRequest;
  if (typeof user === 'string' || typeof user === 'number') return user;
  if (user !== null && typeof user === 'object') {
    const id = (user as { id?: unknown }).id;
    if (id !== undefined && id !== null) return id;
  }
  if (auth !== null && typeof auth === 'object') return (auth as { sub?: unknown }).sub;
  return undefined;
}

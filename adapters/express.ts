import type { IncomingMessage, ServerResponse } from 'node:http';
import { ConfigError, IdstitchError } from '../src/errors.js';
import type { TrackerOptions } from '../src/options.js';
import { NodeRequestContext, socketIsSecure } from '../src/request-context.js';
import type { RequestScope } from '../src/request-scope.js';
import { createTracker, isTracker, type Tracker } from '../src/tracker.js';

export { createTracker, type Tracker, type TrackerOptions };

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
    }
  }
}

/**
 * The request's scope hangs off its `track` function, under a registry symbol so the ESM and
 * CommonJS builds find the same one. One new property per request instead of two: Express gives
 * each request its own hidden class, so every property added to it takes V8's slow path.
 */
const SCOPE = Symbol.for('idstitch.scope');

type ScopedTrack = TrackFunction & { [SCOPE]?: RequestScope };
type TrackedRequest = IncomingMessage & { track?: ScopedTrack; secure?: unknown; user?: unknown; auth?: unknown };

export type TrackingMiddleware = ((req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void) & {
  /** The tracker behind the middleware: `flush()`, `shutdown()`, `stats()`. */
  readonly tracker: Tracker;
};

/**
 * The Express middleware (also fine on bare `node:http`: `(req, res, next?)`).
 * `app.use(tracking({ token }))` gives each browser a device id cookie and each request `req.track`.
 * Pass a `Tracker` instead of options to share one across apps.
 */
export function tracking(options?: TrackerOptions | Tracker): TrackingMiddleware {
  if (options && typeof options === 'object' && 'socket' in options && 'headers' in options) {
    throw new ConfigError('tracking', 'was mounted without being called: write app.use(tracking()), not app.use(tracking)');
  }
  const tracker = isTracker(options) ? options : createTracker(options as TrackerOptions | undefined);

  function idstitchTracking(req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void {
    const tracked = req as TrackedRequest;
    // Mounted twice (a router and the app, say): the first one owns the request.
    if (tracked.track?.[SCOPE] === undefined) {
      try {
        const scope = tracker.scope(new NodeRequestContext(req, res, isSecure), req, expressUserId);
        const track: ScopedTrack = scope.track;
        track[SCOPE] = scope;
        tracked.track = track;
      } catch (error) {
        // Tracking must never fail the request it rides on.
        tracker.reporter.report(new IdstitchError('IDSTITCH_INTERNAL', `idstitch could not attach to the request: ${(error as Error)?.message}`, { cause: error }));
        tracked.track = noTrack;
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
  const scope = (req as TrackedRequest | undefined)?.track?.[SCOPE];
  return scope ? { deviceId: scope.deviceId, userId: scope.userId } : undefined;
}

/** Express's trust-proxy-aware `req.secure`; on bare node:http, whether the socket is TLS. */
function isSecure(req: IncomingMessage): boolean {
  const secure = (req as TrackedRequest).secure;
  return typeof secure === 'boolean' ? secure : socketIsSecure(req);
}

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

let warnedNotMounted = false;
function scopeOf(req: IncomingMessage, caller: string): RequestScope | undefined {
  const scope = (req as TrackedRequest | undefined)?.track?.[SCOPE];
  if (scope === undefined && !warnedNotMounted) {
    warnedNotMounted = true;
    process.emitWarning(`${caller}(req) was called on a request the idstitch tracking() middleware did not see; mount app.use(tracking()) before your routes`, {
      code: 'IDSTITCH_NOT_MOUNTED',
    });
  }
  return scope;
}

function noTrack(): void {}

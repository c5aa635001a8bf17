import type { Next, ParameterizedContext } from 'koa';
import { ConfigError, IdstitchError } from '../src/errors.js';
import type { TrackerOptions } from '../src/options.js';
import type { People } from '../src/people.js';
import { NodeRequestContext } from '../src/request-context.js';
import type { RequestScope } from '../src/request-scope.js';
import { createTracker, isTracker, type Tracker } from '../src/tracker.js';

export { createTracker, type People, type Tracker, type TrackerOptions };

/** Tracks an event with the request's `$device_id` (and `$user_id` when signed in). Never throws. */
export type TrackFunction = (event: string, properties?: Record<string, unknown>) => void;

/**
 * What the middleware adds to the context. The `DefaultContext` augmentation covers apps with
 * Koa's default types; an app declaring its own (`new Koa<State, AppContext>()`) gets `track`
 * from Koa's `use()` typing instead: `const app = new Koa<State, AppContext>().use(tracking())`.
 */
export interface TrackingContext {
  track: TrackFunction;
}

declare module 'koa' {
  // @types/koa documents DefaultContext as the interface to augment: importing idstitch/koa gives
  // every Koa context a typed `track`.
  interface DefaultContext {
    /** Added by idstitch's `tracking()` middleware. */
    track: TrackFunction;
    /** Profile updates for the request's user (held in a cookie until sign-in while anonymous). Added by `tracking()`. */
    people: People;
    /** Super properties for the rest of this request's events. Added by `tracking()`. */
    register: (properties: Record<string, unknown>) => void;
  }
}

/**
 * Any Koa context, whatever state and context types the app declares (a koa-router context, a
 * `Koa<MyState, MyContext>` app): only what every Koa context has is used.
 */
export type KoaContext = ParameterizedContext<unknown, object, unknown>;

/** Per-request state, under a registry symbol so the ESM and CommonJS builds find the same one. */
const SCOPE = Symbol.for('idstitch.scope');

type TrackedContext = KoaContext & { [SCOPE]?: RequestScope; track?: TrackFunction };

export type TrackingMiddleware = ((ctx: ParameterizedContext<unknown, TrackingContext, unknown>, next: Next) => Promise<void>) & {
  /** The tracker behind the middleware: `flush()`, `shutdown()`, `stats()`. */
  readonly tracker: Tracker;
};

/**
 * The Koa middleware (Koa 2 and 3). `app.use(tracking({ token }))` gives each browser a device id
 * cookie and each context `ctx.track`. Pass a `Tracker` instead of options to share one across apps.
 * The user id defaults to `ctx.state.user.id` (koa-passport), then `ctx.state.user.sub` (koa-jwt);
 * a `getUserId` option receives the Koa `ctx`.
 */
export function tracking(options?: TrackerOptions<KoaContext> | Tracker): TrackingMiddleware {
  if (options && typeof options === 'object' && 'req' in options && 'res' in options && 'app' in options) {
    throw new ConfigError('tracking', 'was mounted without being called: write app.use(tracking()), not app.use(tracking)');
  }
  const tracker = isTracker(options) ? options : createTracker(options as TrackerOptions<never> | undefined);

  async function idstitchTracking(ctx: ParameterizedContext<unknown, TrackingContext, unknown>, next: Next): Promise<void> {
    const tracked = ctx as TrackedContext;
    // Mounted twice (a sub-app and its parent, say): the first one owns the request.
    if (tracked[SCOPE] !== undefined) {
      await next();
      return;
    }
    try {
      const scope = tracker.scope(new KoaRequestContext(ctx), ctx, koaUserId);
      tracked[SCOPE] = scope;
      tracked.track = scope.track;
      accessorsOn(ctx);
    } catch (error) {
      // Tracking must never fail the request it rides on.
      tracker.reporter.report(new IdstitchError('IDSTITCH_INTERNAL', `idstitch could not attach to the request: ${(error as Error)?.message}`, { cause: error }));
      tracked.track = noTrack;
    }
    await next();
  }
  return Object.assign(idstitchTracking, { tracker });
}

/** Koa `app.context` objects given the `people` and `register` accessors. */
const withAccessors = new WeakSet<object>();

/**
 * `ctx.people` and `ctx.register` as accessors on `app.context`, the prototype Koa documents for
 * adding to every `ctx`, installed once per app: nothing is added per request.
 */
function accessorsOn(ctx: KoaContext): void {
  const proto = Object.getPrototypeOf(ctx) as object | null;
  if (proto === null || withAccessors.has(proto)) return;
  withAccessors.add(proto);
  for (const name of ['people', 'register'] as const) {
    if (Object.prototype.hasOwnProperty.call(proto, name)) continue; // someone else's: leave it
    Object.defineProperty(proto, name, {
      configurable: true,
      get(this: TrackedContext) {
        return this[SCOPE]?.[name];
      },
    });
  }
}

/**
 * On signup or login: links this browser's device id to the user. Sends one event carrying both
 * ids (Mixpanel merges them, retroactively); later events of the request carry the user id.
 * `userId` defaults to `getUserId(ctx)` (Koa: `ctx.state.user.id`, then `ctx.state.user.sub`).
 * Returns the linked user id, or undefined when there was none (reported to `onError`).
 */
export function identifyUser(ctx: KoaContext, userId?: string | number): string | undefined {
  return scopeOf(ctx, 'identifyUser')?.identify(userId);
}

/** On logout: a new device id for this browser (the SDK's `.reset()`), and no user id for the rest of the request. */
export function resetUser(ctx: KoaContext): void {
  scopeOf(ctx, 'resetUser')?.reset();
}

/** The request's identity: `{ deviceId, userId }`, or undefined when the middleware did not run. */
export function identityOf(ctx: KoaContext): { deviceId: string; userId: string | undefined } | undefined {
  const scope = (ctx as TrackedContext | undefined)?.[SCOPE];
  return scope ? { deviceId: scope.deviceId, userId: scope.userId } : undefined;
}

/**
 * `RequestContext` over a Koa context: Node's response underneath (so the cookie goes out at header
 * time, whichever way the response is written: Koa's own respond, its error page, `ctx.respond =
 * false` with a raw `writeHead`, `ctx.flushHeaders()`), and Koa's proxy-aware view of the client.
 */
class KoaRequestContext extends NodeRequestContext {
  readonly #ctx: KoaContext;

  constructor(ctx: KoaContext) {
    super(ctx.req, ctx.res);
    this.#ctx = ctx;
  }

  /** `ctx.href`: protocol and host follow `app.proxy` (X-Forwarded-Proto, X-Forwarded-Host). */
  override requestUrl(): string | undefined {
    return this.#ctx.host ? this.#ctx.href : undefined;
  }

  /**
   * `ctx.ip`: the socket's peer, or with `app.proxy` the *left-most* `X-Forwarded-For` entry, which
   * the client writes unless `app.maxIpsCount` (the number of proxies) trims the list to what they
   * appended. Koa's choice, documented in its request.ips docs; idstitch does not second-guess it.
   */
  override clientIp(): string | undefined {
    return this.#ctx.ip || undefined;
  }

  /** `ctx.secure` trusts `X-Forwarded-Proto` only when `app.proxy` is set. */
  override isSecure(): boolean {
    return this.#ctx.secure;
  }
}

/** koa-passport puts the user on `ctx.state.user` (its `id`); koa-jwt puts the token's claims there (`sub`). */
function koaUserId(ctx: unknown): unknown {
  const user = (ctx as { state?: { user?: unknown } }).state?.user;
  if (typeof user === 'string' || typeof user === 'number') return user;
  if (user === null || typeof user !== 'object') return undefined;
  const { id, sub } = user as { id?: unknown; sub?: unknown };
  return id !== undefined && id !== null ? id : sub;
}

let warnedNotMounted = false;
function scopeOf(ctx: KoaContext, caller: string): RequestScope | undefined {
  const scope = (ctx as TrackedContext | undefined)?.[SCOPE];
  if (scope === undefined && !warnedNotMounted) {
    warnedNotMounted = true;
    process.emitWarning(`${caller}(ctx) was called on a request the idstitch tracking() middleware did not see; mount app.use(tracking()) before your routes`, {
      code: 'IDSTITCH_NOT_MOUNTED',
    });
  }
  return scope;
}

function noTrack(): void {}

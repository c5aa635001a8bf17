// idstitch/koa: the middleware for Koa 2 and 3.
import type { Next, ParameterizedContext } from 'koa';
import { attachScope, coreOf, requestFunctions, scopeOn, trackerFor } from '../src/adapter.js';
import { IdstitchError } from '../src/errors.js';
import type { TrackerOptions } from '../src/options.js';
import type { People } from '../src/people.js';
import { NodeRequestContext } from '../src/request-context.js';
import { createTracker, type Tracker } from '../src/tracker.js';

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

type TrackedContext = KoaContext & { track?: TrackFunction };

export type TrackingMiddleware = ((ctx: ParameterizedContext<unknown, TrackingContext, unknown>, next: Next) => Promise<void>) & {
  /** The tracker behind the middleware: `flush()`, `shutdown()`, `stats()`. */
  readonly tracker: Tracker;
};

/**
 * The Koa middleware (Koa 2 and 3). `app.use(tracking({ token }))` gives each browser a device id
 * cookie and each context `ctx.track` (its own), `ctx.people` and `ctx.register` (accessors on the
 * app's own `app.context`). Pass a `Tracker` instead
 * of options to share one across apps. The user id defaults to `ctx.state.user.id`
 * (koa-passport), then `ctx.state.user.sub` (koa-jwt); a `getUserId` option receives the Koa `ctx`.
 */
export function tracking(options?: TrackerOptions<KoaContext> | Tracker): TrackingMiddleware {
  const tracker = trackerFor(
    options as TrackerOptions<never> | Tracker | undefined,
    (value) => 'req' in value && 'res' in value && 'app' in value,
  );
  const core = coreOf(tracker);

  async function idstitchTracking(ctx: ParameterizedContext<unknown, TrackingContext, unknown>, next: Next): Promise<void> {
    // Mounted twice (a sub-app and its parent, say): the first one owns the request.
    if (scopeOn(ctx) === undefined) {
      const tracked = ctx as TrackedContext;
      try {
        const scope = core.scope(new KoaRequestContext(ctx), { req: ctx, defaultGetUserId: koaUserId });
        attachScope(ctx, scope);
        tracked.track = scope.track;
        lazyAccessorsOn(Object.getPrototypeOf(ctx) as object | null);
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
    await next();
  }
  return Object.assign(idstitchTracking, { tracker });
}

/** Koa `app.context` objects given the `people` and `register` accessors. */
const contexts = new WeakSet<object>();

/**
 * `ctx.people` and `ctx.register` as accessors on the app's own `app.context` (the prototype Koa
 * documents for adding to every `ctx`), installed once per app, so neither is made for a request
 * that does not use it: building both for every request cost more than the rest of the middleware
 * (docs/performance.md). Where another library defined one, it is left alone.
 */
function lazyAccessorsOn(proto: object | null): void {
  if (proto === null || contexts.has(proto)) return;
  contexts.add(proto);
  for (const name of ['people', 'register'] as const) {
    if (name in proto) continue;
    Object.defineProperty(proto, name, {
      configurable: true,
      get(this: KoaContext) {
        return scopeOn(this)?.[name];
      },
    });
  }
}

const functions = requestFunctions<KoaContext>('ctx');

/**
 * On signup or login: links this browser's device id to the user. Sends one event carrying both
 * ids (Mixpanel merges them, retroactively); later events of the request carry the user id.
 * `userId` defaults to `getUserId(ctx)` (Koa: `ctx.state.user.id`, then `ctx.state.user.sub`).
 * Returns the linked user id, or undefined when there was none (reported to `onError`).
 */
export const identifyUser: (ctx: KoaContext, userId?: string | number) => string | undefined = functions.identifyUser;

/** On logout: a new device id for this browser (the SDK's `.reset()`), and no user id for the rest of the request. */
export const resetUser: (ctx: KoaContext) => void = functions.resetUser;

/** The request's identity: `{ deviceId, userId }`, or undefined when the middleware did not run. */
export const identityOf: (ctx: KoaContext) => { deviceId: string; userId: string | undefined } | undefined = functions.identityOf;

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

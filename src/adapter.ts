// What every adapter needs besides its request context: the tracker behind a middleware, where a
// request keeps its scope, and the functions apps call with their request (identifyUser, resetUser,
// identityOf). Adapters import this module (and request-context.ts); users never do.
import { ConfigError } from './errors.js';
import type { TrackerOptions } from './options.js';
import type { RequestScope } from './request-scope.js';
import { createTracker, isTracker, type Tracker } from './tracker.js';

export { coreOf } from './tracker.js';

/** Where a request keeps its scope (on the request object, or Express's `res.locals`): a registry symbol, so every copy of idstitch finds it. */
export const SCOPE = Symbol.for('idstitch.scope');

type Scoped = { [SCOPE]?: RequestScope };

/**
 * The tracker behind a middleware: the one given, or a new one made from options. `mountedBare`
 * recognises the framework's request object, which arrives here when the app wrote
 * `app.use(tracking)` instead of `app.use(tracking())`.
 */
export function trackerFor(options: TrackerOptions<never> | Tracker | undefined, mountedBare: (value: object) => boolean): Tracker {
  if (options !== null && typeof options === 'object' && mountedBare(options)) {
    throw new ConfigError('tracking', 'was mounted without being called: write app.use(tracking()), not app.use(tracking)');
  }
  return isTracker(options) ? options : createTracker(options);
}

export function attachScope(target: object, scope: RequestScope): void {
  (target as Scoped)[SCOPE] = scope;
}

/** The scope the middleware gave this request object, if any. */
export function scopeOn(target: unknown): RequestScope | undefined {
  return target === null || typeof target !== 'object' ? undefined : (target as Scoped)[SCOPE];
}

/** The request's identity: `{ deviceId, userId }`, or undefined when the middleware did not run. */
export type IdentityOf<Req> = (request: Req) => { deviceId: string; userId: string | undefined } | undefined;

/**
 * `identifyUser`, `resetUser` and `identityOf` for an adapter, named for the warnings after the
 * argument apps pass (`req`, `ctx`). `find` is where that adapter keeps a request's scope.
 */
export function requestFunctions<Req>(argument: string, find: (request: Req) => RequestScope | undefined = scopeOn) {
  const scopeOf = (request: Req, caller: string): RequestScope | undefined => {
    const scope = request === null || request === undefined ? undefined : find(request);
    if (scope === undefined) warnNotMounted(caller);
    return scope;
  };
  return {
    identifyUser: (request: Req, userId?: string | number): string | undefined =>
      scopeOf(request, `identifyUser(${argument})`)?.identify(userId),
    resetUser: (request: Req): void => scopeOf(request, `resetUser(${argument})`)?.reset(),
    identityOf: ((request: Req) => {
      const scope = request === null || request === undefined ? undefined : find(request);
      return scope ? { deviceId: scope.deviceId, userId: scope.userId } : undefined;
    }) as IdentityOf<Req>,
  };
}

/** Callers already warned about: each says once that it ran where idstitch has no scope. */
const warned = new Set<string>();

/**
 * A call on a request the middleware never saw (a route mounted before `tracking()`), or whose
 * scope the app lost (`hint` says how): warned once per caller, never thrown.
 */
export function warnNotMounted(caller: string, hint = ''): void {
  if (warned.has(caller)) return;
  warned.add(caller);
  process.emitWarning(
    `${caller} ran on a request the idstitch tracking() middleware did not see${hint}; nothing was tracked. Mount app.use(tracking()) before your routes`,
    { code: 'IDSTITCH_NOT_MOUNTED' },
  );
}

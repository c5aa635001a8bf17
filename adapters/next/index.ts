// idstitch/next: tracking in Next.js (App Router and Pages Router API routes) on the Node.js runtime.
// The device id is best issued earlier, by idstitch/next/proxy, so Server Components (which cannot
// set cookies) always find one; without the proxy, Route Handlers, Server Actions and Pages API
// routes issue it themselves.
import type { IncomingMessage } from 'node:http';
import type { NextApiRequest, NextApiResponse } from 'next';
import { cookies, headers } from 'next/headers.js';
import type { NextRequest } from 'next/server.js';
import { coreOf } from '../../src/adapter.js';
import type { ResolvedRequest } from '../../src/core.js';
import { ConfigError } from '../../src/errors.js';
import { describe } from '../../src/option-checks.js';
import type { TrackerOptions } from '../../src/options.js';
import { NodeRequestContext, socketClient, socketIsSecure, type NodeClient } from '../../src/request-context.js';
import { clientIpFromForwardedFor } from '../../src/request-properties.js';
import { createTracker, isTracker, type Tracker } from '../../src/tracker.js';
import type { CookieStore } from './cookie-store.js';
import { flushAfterResponse as flushLater } from './flush.js';
import { forwardedProtoIsHttps, isNextControlFlow } from './headers.js';
import { checkAdapterOptions, sharedTracker } from './options.js';
import { RouteContext } from './route-context.js';
import { ServerContext } from './server-context.js';
import { trackingFor } from './tracking.js';
import type {
  NextAdapterOptions,
  NextGetUserId,
  NextTracking,
  NextTrackingOptions,
  TrackedApiHandler,
  TrackedRouteHandler,
  Tracking,
  UserIdSource,
} from './types.js';

export { createTracker, type Tracker, type TrackerOptions };
export type { People } from '../../src/people.js';
export type * from './types.js';

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
 * instead of each starting a queue, while a configuration with its own `onError` gets its own.
 * Pass a `Tracker` instead of options to manage it yourself. Runs on the Node.js runtime (it sends
 * with undici); `idstitch/next/proxy` is the part that also runs on Edge.
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
    if (adapterOptions !== undefined)
      throw new ConfigError('nextTracking', 'takes a second argument only after a Tracker; put these options in the first');
    const { getUserId, flushAfterResponse, trustProxy, ...trackerOptions } = optionsOrTracker;
    adapter = checkAdapterOptions({ getUserId, flushAfterResponse, trustProxy });
    // A Next consent hook takes the source and may be async: the core awaits it once per request (resolve).
    tracker = sharedTracker(trackerOptions as TrackerOptions);
  }
  // A Tracker made with a (synchronous or async) getUserId of its own serves as the default.
  const getUserId = adapter.getUserId ?? (coreOf(tracker).config.getUserId as NextGetUserId | undefined);
  return places(tracker, getUserId, adapter.flushAfterResponse ?? true, adapter.trustProxy ?? 0);
}

/** What one request's `getTracking` / `actionTracking` calls share, keyed by that request's cookie store. */
interface ServerRequest {
  readonly resolved: Promise<ResolvedRequest>;
  component?: Tracking;
  action?: Tracking;
  flushScheduled?: boolean;
}

/** The four places a Next app tracks from, bound to one tracker. */
function places(tracker: Tracker, getUserId: NextGetUserId | undefined, flushAfterResponse: boolean, trustProxy: number): NextTracking {
  const core = coreOf(tracker);
  const cookie = core.config.cookie;
  const apiClient = pagesApiClient(trustProxy);
  // Next hands out one cookie store per request phase; a Server Action's cookies() and the render
  // after it differ (the render sees the action's changes), so each gets its own identity.
  const serverRequests = new WeakMap<CookieStore, ServerRequest>();
  /** getUserId and privacy.consent, awaited once per request, with the core's rules for their failures. */
  const resolve = (source: UserIdSource): Promise<ResolvedRequest> => core.resolve(source, getUserId, isNextControlFlow);
  const scheduleFlush = (): void => {
    if (flushAfterResponse) flushLater(tracker);
  };

  async function serverTracking(kind: 'component' | 'action'): Promise<Tracking> {
    const [store, headerList] = await Promise.all([cookies(), headers()]);
    let request = serverRequests.get(store);
    if (request === undefined) {
      request = { resolved: resolve({ type: 'server' }) };
      serverRequests.set(store, request);
    }
    const resolved = await request.resolved;
    const existing = request[kind];
    if (existing) return existing;
    const context = new ServerContext(store, headerList, cookie, kind === 'component', trustProxy);
    const tracking = trackingFor(core.scope(context, { req: undefined, resolved }), context.commit);
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
      if (typeof handler !== 'function')
        throw new ConfigError('withTracking', `takes your route handler function, got ${describe(handler)}`);
      return async function trackedRouteHandler(request: NextRequest, context: C): Promise<Response> {
        const resolved = await resolve({ type: 'route', request });
        const route = new RouteContext(request, cookie, trustProxy);
        const tracking = trackingFor(core.scope(route, { req: request, resolved }));
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
      if (typeof handler !== 'function')
        throw new ConfigError('withApiTracking', `takes your API route handler function, got ${describe(handler)}`);
      return async function trackedApiRoute(req: NextApiRequest, res: NextApiResponse): Promise<void> {
        const resolved = await resolve({ type: 'api', req, res });
        const tracking = trackingFor(core.scope(new NodeRequestContext(req, res, forwardedIsSecure, apiClient), { req, resolved }));
        try {
          await handler(req, res, tracking);
        } finally {
          scheduleFlush();
        }
      };
    },
  };
}

/** A Pages API route has a socket: its peer unless proxies are trusted, then their X-Forwarded-For. */
function pagesApiClient(trustProxy: number): NodeClient {
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

// The types of idstitch/next: what `nextTracking` takes and returns.
import type { NextApiRequest, NextApiResponse } from 'next';
import type { NextRequest } from 'next/server.js';
import type { TrackerOptions } from '../../src/options.js';
import type { People } from '../../src/people.js';
import type { PrivacyOptions } from '../../src/privacy.js';
import type { Tracker } from '../../src/tracker.js';

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

/** `privacy` as everywhere, with a `consent` that receives what `getUserId` receives and may be async (awaited once per request). */
export interface NextPrivacyOptions extends Omit<PrivacyOptions, 'consent'> {
  consent?: (source: UserIdSource) => boolean | Promise<boolean>;
}

/** Tracker options (all of `createTracker`'s but `getUserId`) plus the Next-specific ones. */
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

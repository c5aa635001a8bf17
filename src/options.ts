// Every option a tracker takes, with its default, and the limits of Mixpanel's API they respect.
// config.ts turns them into the checked, frozen configuration the rest of idstitch reads.
import { COOKIE_DEFAULTS, type CookieOptions, type NormalizedCookie } from './cookie-config.js';
import type { IdstitchError } from './errors.js';
import type { DeviceIdSource } from './browser-sdk-cookie.js';
import { describe, isPlainObject } from './option-checks.js';
import type { Logger } from './report.js';
import { PRIVACY_DEFAULTS, type PrivacyOptions } from './privacy.js';
import type { RequestPropertiesOption } from './request-properties.js';

export { describe, isPlainObject };
export type { CookieOptions, NormalizedCookie };

/** Resolves the app's stable user id from a framework request; return `undefined` when anonymous. */
export type GetUserId<Req = unknown> = (req: Req) => unknown;

export interface ServiceAccount {
  username: string;
  secret: string;
  projectId: string | number;
}

/**
 * Every option (docs/options.md has them all with their defaults). `Req` is what `getUserId` and
 * `privacy.consent` receive: the adapters set it (Express: the request, Koa: `ctx`).
 */
export interface TrackerOptions<Req = never> {
  /** Mixpanel project token. Default `process.env.MIXPANEL_TOKEN`. */
  token?: string;
  /** Ingestion base URL, e.g. the local collector `http://127.0.0.1:7600`. Default: Mixpanel's host for `region`. */
  apiHost?: string;
  /** `'US'` (default, api.mixpanel.com), `'EU'` (api-eu) or `'IN'` (api-in). A wrong region loses data. */
  region?: 'US' | 'EU' | 'IN';
  /** `'import'` (default: `/import?strict=1`, Basic auth) or `'track'` (`/track`, token in each event). */
  endpoint?: 'import' | 'track';
  /** Service-account credentials for `/import` (sent with `project_id`) instead of the token. */
  serviceAccount?: ServiceAccount;
  /** Resolves the user id per request. Adapters provide a default (Express: `req.user.id`, then `req.auth.sub`). */
  // Method syntax on purpose: its parameter is then checked bivariantly, so `(req: express.Request) => …`
  // and `(req) => req.user` both fit, as they do for Express's own handler types.
  getUserId?(req: Req): unknown;
  /** Name of the event `identifyUser` sends to link device and user. Default `'User Identified'`. */
  identifyEvent?: string;
  /** The device-id cookie. */
  cookie?: CookieOptions;
  /**
   * When a different user signs in on a browser whose device id is linked to another user (no
   * logout in between: a forgotten `resetUser`, a shared computer), issue a new device id first, so
   * the new user's events never ride a device Mixpanel already linked to someone else. The cookie
   * remembers the linked user as a keyed tag, never the id. Default `true`.
   */
  guardUserSwitch?: boolean;
  /**
   * Where the device id comes from. `'mixpanel-browser'`: on a site that also runs Mixpanel's browser
   * SDK, the `$device_id` in its cookie `mp_<token>_mixpanel`, so client and server events share one
   * device (idstitch's own cookie when the SDK's is absent or invalid). The SDK then owns the id:
   * `resetUser` cannot rotate it, call `mixpanel.reset()` in the page. Default `'idstitch'`.
   */
  deviceIdFrom?: DeviceIdSource;
  /**
   * A property name, e.g. `'user_id'`: identified requests add the user id under it to every event,
   * and identifyUser sets it on the profile, so the id is visible in reports and on the profile
   * (the guide's troubleshooting advice). Default: off.
   */
  userIdProperty?: string;
  /** Properties added to every event (event properties win over them). */
  superProperties?: Record<string, unknown>;
  /**
   * Properties taken from the request, added to its events over `superProperties` and under the
   * event's own: `ip` (the client address as the framework's proxy trust decides; without it every
   * event has `ip: "0"`), `url` (`$current_url`), `utm` (`utm_*`), `referrer` (`$referrer`,
   * `$referring_domain`), `userAgent` (`$browser`, `$browser_version`, `$os`, `$device`).
   * `true` for all, or an object naming the ones wanted. Default `false`.
   */
  requestProperties?: RequestPropertiesOption;
  /**
   * Opt-outs: `Sec-GPC: 1` (`gpc`, default on), `DNT: 1` (`dnt`, default off), and the app's
   * `consent(req)` hook. An opted-out request gets no device cookie and sends nothing; its events
   * are counted as `dropped.opted_out`.
   */
  privacy?: PrivacyOptions<Req>;
  /** Send a batch once this many events are queued. Default 1000. */
  flushAt?: number;
  /** Send whatever is queued at least this often, in ms. Default 2000. */
  flushIntervalMs?: number;
  /** Events per request, at most 2000 (the API's limit). Default 2000. */
  maxBatchSize?: number;
  /** Uncompressed bytes per request, at most 10,000,000 (the API's limit). Default 9,000,000. */
  maxBatchBytes?: number;
  /** Events held (queued, in flight or waiting to retry) before new ones are dropped. Default 20,000. */
  maxQueueSize?: number;
  /** Bytes held before new events are dropped. Default 32 MiB. */
  maxQueueBytes?: number;
  /** Requests in flight at once. Default 4. */
  maxConcurrentRequests?: number;
  /** Retries per batch after the first attempt. Default 10 (about six minutes of backoff). */
  maxRetries?: number;
  /** First retry delay in ms; doubles per retry. Default 2000 (Mixpanel's guidance). */
  minRetryDelayMs?: number;
  /** Retry delay cap in ms. Default 60,000 (Mixpanel's guidance). */
  maxRetryDelayMs?: number;
  /** Cap on a server's `Retry-After`, in ms. Default 60,000. */
  maxRetryAfterMs?: number;
  /** Per-request timeout in ms (connect, headers, body). Default 15,000. */
  timeoutMs?: number;
  /** Default deadline of `shutdown()`, in ms. Default 25,000 (inside Kubernetes' 30 s grace period). */
  shutdownTimeoutMs?: number;
  /** gzip request bodies: `true` (default, level 1: least CPU), `false`, or a level 1–9. */
  gzip?: boolean | number;
  /** Receives every error idstitch reports (bad events, bad user ids, delivery failures). Must not throw. */
  onError?: (error: IdstitchError) => void;
  /** Where diagnostics go when `onError` is not set. Default: stderr. `false` silences them. */
  logger?: Logger | false;
}

/** Mixpanel's ingestion hosts (mixpanel-contract §1.1). */
export const REGION_HOSTS = {
  US: 'https://api.mixpanel.com',
  EU: 'https://api-eu.mixpanel.com',
  IN: 'https://api-in.mixpanel.com',
} as const;

/** Limits of Mixpanel's ingestion API (mixpanel-contract §2.1). */
export const API_LIMITS = {
  batchEvents: 2000,
  batchBytes: 10_000_000, // uncompressed, per /import request
  eventBytes: 1_000_000, // each event must be smaller
  properties: 255, // "fewer than 255" per event
  nestedKeys: 255, // keys per nested object
  arrayItems: 255, // elements per list
  nestingDepth: 3,
  stringId: 255, // user ids, event names, property names
} as const;

/** Every default in one place. Units in the names or comments. */
export const DEFAULTS = {
  region: 'US',
  endpoint: 'import',
  identifyEvent: 'User Identified',
  guardUserSwitch: true,
  deviceIdFrom: 'idstitch',
  cookie: COOKIE_DEFAULTS,
  requestProperties: false,
  privacy: PRIVACY_DEFAULTS,
  flushAt: 1000,
  flushIntervalMs: 2000,
  maxBatchSize: 2000,
  maxBatchBytes: 9_000_000,
  maxQueueSize: 20_000,
  maxQueueBytes: 32 * 1024 * 1024,
  maxConcurrentRequests: 4,
  maxRetries: 10,
  minRetryDelayMs: 2000,
  maxRetryDelayMs: 60_000,
  maxRetryAfterMs: 60_000,
  timeoutMs: 15_000,
  shutdownTimeoutMs: 25_000,
  gzipLevel: 1, // the fastest level: the CPU it saves outweighs the few bytes it adds (docs/performance.md)
} as const;

import { COOKIE_DEFAULTS, normalizeCookie, type CookieOptions, type NormalizedCookie } from './cookie-config.js';
import { ConfigError, type IdstitchError } from './errors.js';
import { LINK_TAG_LENGTH } from './identity.js';
import { normalizeDeviceIdSource, type BrowserSdkCookie, type DeviceIdSource } from './browser-sdk-cookie.js';
import { createSigner, linkTagger, type Signer } from './signing.js';
import { describe, isPlainObject, oneOf, optionalString, rejectUnknown } from './option-checks.js';
import type { Logger } from './report.js';
import { normalizePrivacy, PRIVACY_DEFAULTS, type PrivacyConfig, type PrivacyOptions } from './privacy.js';
import { normalizeRequestProperties, type RequestPropertiesOption, type RequestPropertySettings } from './request-properties.js';

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
 * Every option (see the README's table for defaults). `Req` is what `getUserId` and
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
  gzipLevel: 1, // fastest: 42 % less CPU than level 6 for ~6 % more bytes on Mixpanel events (bench/)
} as const;

/** The normalised, frozen configuration every per-request and background path reads. */
export interface TrackerConfig {
  readonly token: string | undefined;
  /** False when there is neither a token nor an apiHost: nothing is sent. */
  readonly canSend: boolean;
  readonly endpoint: 'import' | 'track';
  /** Full URL of the ingestion endpoint, query included. */
  readonly url: URL;
  /** Full URL of `/engage`, where profile updates go. */
  readonly engageUrl: URL;
  /**
   * Signs the cookie that holds an anonymous browser's profile updates until it signs in: the
   * `cookie.secret` signer. Undefined without one, and nothing is held: a key derived from anything
   * public (the token ships in browser code) would let anyone forge their own profile's properties.
   */
  readonly profileSigner: Signer | undefined;
  /** An event and profile property carrying the user id on identified requests, or undefined (off). */
  readonly userIdProperty: string | undefined;
  readonly authorization: string | undefined;
  readonly getUserId: GetUserId | undefined;
  readonly identifyEvent: string;
  readonly cookie: NormalizedCookie;
  /** Signs and verifies the cookie value, when `cookie.secret` is set. */
  readonly cookieSigner: Signer | undefined;
  /** The tag of a user id the cookie remembers; undefined when `guardUserSwitch` is off. */
  readonly linkTag: ((userId: string) => string) | undefined;
  /** mixpanel-browser's cookie, read for the device id (`deviceIdFrom`); undefined: idstitch's cookie only. */
  readonly browserSdkCookie: BrowserSdkCookie | undefined;
  readonly superProperties: Readonly<Record<string, unknown>> | undefined;
  /** Which request properties events get; undefined when none (the default). */
  readonly requestProperties: RequestPropertySettings | undefined;
  readonly privacy: PrivacyConfig;
  readonly flushAt: number;
  readonly flushIntervalMs: number;
  readonly maxBatchSize: number;
  readonly maxBatchBytes: number;
  readonly maxQueueSize: number;
  readonly maxQueueBytes: number;
  readonly maxConcurrentRequests: number;
  readonly retry: RetryPolicy;
  readonly timeoutMs: number;
  readonly shutdownTimeoutMs: number;
  readonly gzipLevel: number | false;
  readonly onError: ((error: IdstitchError) => void) | undefined;
  readonly logger: Logger | false | undefined;
}

export interface RetryPolicy {
  readonly maxRetries: number;
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxRetryAfterMs: number;
}

const OPTION_NAMES: ReadonlyArray<keyof TrackerOptions> = [
  'token', 'apiHost', 'region', 'endpoint', 'serviceAccount', 'getUserId', 'identifyEvent', 'cookie', 'guardUserSwitch', 'userIdProperty', 'deviceIdFrom',
  'superProperties', 'requestProperties', 'privacy', 'flushAt', 'flushIntervalMs', 'maxBatchSize', 'maxBatchBytes', 'maxQueueSize',
  'maxQueueBytes', 'maxConcurrentRequests', 'maxRetries', 'minRetryDelayMs', 'maxRetryDelayMs',
  'maxRetryAfterMs', 'timeoutMs', 'shutdownTimeoutMs', 'gzip', 'onError', 'logger',
];
/** Options renamed or confused with other libraries' names: say what to use instead. */
const INSTEAD: Readonly<Record<string, string>> = {
  host: 'apiHost',
  api_host: 'apiHost',
  apiUrl: 'apiHost',
  secret: 'serviceAccount (or the token, which /import accepts as Basic username)',
  batchSize: 'flushAt / maxBatchSize',
  flushInterval: 'flushIntervalMs',
  timeout: 'timeoutMs',
  userId: 'getUserId',
  cookieName: 'cookie.name',
};

/**
 * Validates and normalises options once, at construction, into a new frozen object.
 * Throws `ConfigError` naming the option; never mutates `options`.
 */
export function normalizeOptions(options: TrackerOptions = {}, env: Readonly<Record<string, string | undefined>> = process.env): TrackerConfig {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new ConfigError('options', `must be an object, got ${describe(options)}`);
  }
  rejectUnknown(options, OPTION_NAMES, '', INSTEAD);

  const token = optionalString(options, 'token') ?? nonEmpty(env.MIXPANEL_TOKEN);
  const endpoint = oneOf(options, 'endpoint', ['import', 'track'] as const) ?? DEFAULTS.endpoint;
  const region = oneOf(options, 'region', ['US', 'EU', 'IN'] as const);
  const apiHostOption = optionalString(options, 'apiHost');
  if (apiHostOption !== undefined && region !== undefined) {
    throw new ConfigError('apiHost', 'and `region` contradict each other: give one of them');
  }
  const base = apiHostOption ?? REGION_HOSTS[region ?? DEFAULTS.region];
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new ConfigError('apiHost', `must be an absolute http(s) URL, got ${JSON.stringify(base)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError('apiHost', `must use http: or https:, got ${url.protocol}`);
  }
  if (url.search || url.hash || url.username || url.password) {
    throw new ConfigError('apiHost', 'must not carry a query, fragment or credentials; use `token` or `serviceAccount`');
  }

  const serviceAccount = options.serviceAccount;
  if (serviceAccount !== undefined) {
    if (serviceAccount === null || typeof serviceAccount !== 'object') {
      throw new ConfigError('serviceAccount', 'must be { username, secret, projectId }');
    }
    for (const key of ['username', 'secret'] as const) {
      if (typeof serviceAccount[key] !== 'string' || serviceAccount[key] === '') {
        throw new ConfigError(`serviceAccount.${key}`, 'must be a non-empty string');
      }
    }
    const projectId = serviceAccount.projectId;
    if (!((typeof projectId === 'string' && /^\d+$/.test(projectId)) || (typeof projectId === 'number' && Number.isSafeInteger(projectId) && projectId > 0))) {
      throw new ConfigError('serviceAccount.projectId', 'must be the numeric project id');
    }
    if (endpoint === 'track') {
      throw new ConfigError('serviceAccount', 'only applies to endpoint "import"; /track authenticates by the token in each event');
    }
  }

  // Endpoint URL: /import is strict so bad records come back itemised (contract §3.2); ip=0 so the
  // server's own address is never used to geolocate users (contract §7).
  const path = url.pathname.replace(/\/+$/, '');
  url = new URL(url.origin + path + (endpoint === 'import' ? '/import' : '/track'));
  if (endpoint === 'import') {
    url.searchParams.set('strict', '1');
    if (serviceAccount) url.searchParams.set('project_id', String(serviceAccount.projectId));
  } else {
    url.searchParams.set('verbose', '1');
  }
  url.searchParams.set('ip', '0');
  // Profiles: /engage takes the token inside each update; ip=0 so a server-side update never moves a
  // user's profile to the server's location (contract §7); verbose for a body to check (§3.3).
  const engageUrl = new URL(url.origin + path + '/engage?ip=0&verbose=1');

  let authorization: string | undefined;
  if (endpoint === 'import') {
    if (serviceAccount) {
      authorization = 'Basic ' + Buffer.from(`${serviceAccount.username}:${serviceAccount.secret}`).toString('base64');
    } else if (token) {
      authorization = 'Basic ' + Buffer.from(`${token}:`).toString('base64');
    }
  }

  const getUserId = options.getUserId;
  if (getUserId !== undefined && typeof getUserId !== 'function') {
    throw new ConfigError('getUserId', `must be a function (req) => userId, got ${describe(getUserId)}`);
  }
  const identifyEvent = optionalString(options, 'identifyEvent') ?? DEFAULTS.identifyEvent;
  if (/^\$(identify|create_alias|merge)$/.test(identifyEvent)) {
    throw new ConfigError('identifyEvent', `must not be ${identifyEvent}: strict /import rejects identity events on Simplified ID Merge projects; any other name links device and user`);
  }
  if (identifyEvent.trim() === '' || identifyEvent.length > API_LIMITS.stringId) {
    throw new ConfigError('identifyEvent', `must be a non-empty name of at most ${API_LIMITS.stringId} characters`);
  }

  const superProperties = options.superProperties;
  if (superProperties !== undefined && !isPlainObject(superProperties)) {
    throw new ConfigError('superProperties', `must be a plain object, got ${describe(superProperties)}`);
  }

  const maxBatchSize = integer(options, 'maxBatchSize', 1, API_LIMITS.batchEvents) ?? DEFAULTS.maxBatchSize;
  const maxBatchBytes = integer(options, 'maxBatchBytes', 1024, API_LIMITS.batchBytes) ?? DEFAULTS.maxBatchBytes;
  const maxQueueSize = integer(options, 'maxQueueSize', 1, 10_000_000) ?? DEFAULTS.maxQueueSize;
  const maxQueueBytes = integer(options, 'maxQueueBytes', API_LIMITS.eventBytes, 2 ** 40) ?? DEFAULTS.maxQueueBytes;
  const flushAt = integer(options, 'flushAt', 1, maxBatchSize) ?? Math.min(DEFAULTS.flushAt, maxBatchSize);
  const minDelayMs = integer(options, 'minRetryDelayMs', 0, 3_600_000) ?? DEFAULTS.minRetryDelayMs;
  const maxDelayMs = integer(options, 'maxRetryDelayMs', minDelayMs, 3_600_000) ?? Math.max(DEFAULTS.maxRetryDelayMs, minDelayMs);

  const gzip = options.gzip;
  let gzipLevel: number | false = DEFAULTS.gzipLevel;
  if (gzip === false) gzipLevel = false;
  else if (typeof gzip === 'number') {
    if (!Number.isInteger(gzip) || gzip < 1 || gzip > 9) throw new ConfigError('gzip', `level must be an integer 1–9, got ${gzip}`);
    gzipLevel = gzip;
  } else if (gzip !== undefined && gzip !== true) {
    throw new ConfigError('gzip', `must be a boolean or a level 1–9, got ${describe(gzip)}`);
  }

  const onError = options.onError;
  if (onError !== undefined && typeof onError !== 'function') {
    throw new ConfigError('onError', `must be a function (error) => void, got ${describe(onError)}`);
  }
  const logger = options.logger;
  if (logger !== undefined && logger !== false) {
    if (logger === null || typeof logger !== 'object' || typeof logger.warn !== 'function' || typeof logger.error !== 'function') {
      throw new ConfigError('logger', 'must have warn(message) and error(message) methods (console and pino loggers do), or be false');
    }
  }

  const cookie = normalizeCookie(options.cookie);
  const cookieSigner = cookie.secrets ? createSigner(cookie.secrets) : undefined;
  const guardUserSwitch = options.guardUserSwitch ?? DEFAULTS.guardUserSwitch;
  if (typeof guardUserSwitch !== 'boolean') throw new ConfigError('guardUserSwitch', `must be true or false, got ${describe(guardUserSwitch)}`);

  return Object.freeze({
    token,
    canSend: token !== undefined || apiHostOption !== undefined,
    endpoint,
    url,
    authorization,
    getUserId: getUserId as GetUserId | undefined,
    identifyEvent,
    cookie,
    cookieSigner,
    engageUrl,
    profileSigner: cookieSigner,
    userIdProperty: optionalString(options, 'userIdProperty'),
    linkTag: guardUserSwitch ? linkTagger(cookieSigner, `idstitch:${token ?? apiHostOption ?? ''}`, LINK_TAG_LENGTH) : undefined,
    browserSdkCookie: normalizeDeviceIdSource(options.deviceIdFrom ?? DEFAULTS.deviceIdFrom, token),
    superProperties: superProperties ? Object.freeze({ ...superProperties }) : undefined,
    requestProperties: normalizeRequestProperties(options.requestProperties ?? DEFAULTS.requestProperties),
    privacy: normalizePrivacy(options.privacy),
    flushAt,
    flushIntervalMs: integer(options, 'flushIntervalMs', 1, 3_600_000) ?? DEFAULTS.flushIntervalMs,
    maxBatchSize,
    maxBatchBytes,
    maxQueueSize,
    maxQueueBytes,
    maxConcurrentRequests: integer(options, 'maxConcurrentRequests', 1, 64) ?? DEFAULTS.maxConcurrentRequests,
    retry: Object.freeze({
      maxRetries: integer(options, 'maxRetries', 0, 100) ?? DEFAULTS.maxRetries,
      minDelayMs,
      maxDelayMs,
      maxRetryAfterMs: integer(options, 'maxRetryAfterMs', 0, 3_600_000) ?? DEFAULTS.maxRetryAfterMs,
    }),
    timeoutMs: integer(options, 'timeoutMs', 1, 600_000) ?? DEFAULTS.timeoutMs,
    shutdownTimeoutMs: integer(options, 'shutdownTimeoutMs', 0, 3_600_000) ?? DEFAULTS.shutdownTimeoutMs,
    gzipLevel,
    onError,
    logger,
  });
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function integer<T extends object>(object: T, key: keyof T & string, min: number, max: number): number | undefined {
  const value = object[key] as unknown;
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(key, `must be an integer from ${min} to ${max}, got ${describe(value)}`);
  }
  return value;
}

// The options, checked once, when a tracker is created, and turned into a new frozen object that
// every per-request and background path reads: nothing is decided anew per request.
import { normalizeCookie, type NormalizedCookie } from './cookie-config.js';
import { ConfigError, type IdstitchError } from './errors.js';
import { LINK_TAG_LENGTH } from './identity.js';
import { normalizeDeviceIdSource, type BrowserSdkCookie } from './browser-sdk-cookie.js';
import { createSigner, linkTagger, type Signer } from './signing.js';
import { describe, isPlainObject, oneOf, optionalString, rejectUnknown } from './option-checks.js';
import { API_LIMITS, DEFAULTS, REGION_HOSTS, type GetUserId, type TrackerOptions } from './options.js';
import type { Logger } from './report.js';
import { normalizePrivacy, type PrivacyConfig } from './privacy.js';
import { normalizeRequestProperties, type RequestPropertySettings } from './request-properties.js';

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
  'token',
  'apiHost',
  'region',
  'endpoint',
  'serviceAccount',
  'getUserId',
  'identifyEvent',
  'cookie',
  'guardUserSwitch',
  'userIdProperty',
  'deviceIdFrom',
  'superProperties',
  'requestProperties',
  'privacy',
  'flushAt',
  'flushIntervalMs',
  'maxBatchSize',
  'maxBatchBytes',
  'maxQueueSize',
  'maxQueueBytes',
  'maxConcurrentRequests',
  'maxRetries',
  'minRetryDelayMs',
  'maxRetryDelayMs',
  'maxRetryAfterMs',
  'timeoutMs',
  'shutdownTimeoutMs',
  'gzip',
  'onError',
  'logger',
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
export function normalizeOptions(
  options: TrackerOptions = {},
  env: Readonly<Record<string, string | undefined>> = process.env,
): TrackerConfig {
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
    if (!(
      (typeof projectId === 'string' && /^\d+$/.test(projectId)) ||
      (typeof projectId === 'number' && Number.isSafeInteger(projectId) && projectId > 0)
    )) {
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
    throw new ConfigError(
      'identifyEvent',
      `must not be ${identifyEvent}: strict /import rejects identity events on Simplified ID Merge projects; any other name links device and user`,
    );
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
  if (typeof guardUserSwitch !== 'boolean')
    throw new ConfigError('guardUserSwitch', `must be true or false, got ${describe(guardUserSwitch)}`);

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

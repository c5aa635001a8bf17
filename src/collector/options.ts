import { ConfigError } from '../errors.js';
import { API_LIMITS, describe, isPlainObject, type ServiceAccount } from '../options.js';
import { MILLISECONDS_FROM, MIXPANEL_RULES } from '../id-merge.js';
import { normalizeFaults, type FaultSpec, type NormalizedFault } from './faults.js';

/**
 * Options of `startCollector`. Every behaviour that Mixpanel's sources leave open
 * (mixpanel-contract §10, "UNCONFIRMED") is a switch here, with the default the contract recommends.
 */
export interface CollectorOptions {
  /** TCP port. Default 7600; `0` picks a free port (read it from `collector.url`). */
  port?: number;
  /** Interface to bind. Default `127.0.0.1`: the collector is a development tool, not a public service. */
  host?: string;
  /** SQLite database: a file path, or `':memory:'` (default) for a collector that forgets on close. */
  storage?: string;
  /** Project token. When set, `/import` needs it (or `secret` / `serviceAccount`) as Basic auth,
   * `/track` and `/engage` ignore records carrying another token, and the query API needs credentials. */
  token?: string;
  /** Legacy project secret, accepted as the Basic username on `/import` (contract §1.3 option C). */
  secret?: string;
  /** Service account accepted on `/import` with `?project_id=` (contract §1.3 option A). */
  serviceAccount?: ServiceAccount;
  /** Faults to inject, in order, before any arrive through `POST /_control/faults`. */
  faults?: FaultSpec[];
  /** Clock in ms since the epoch, for the time rules. Default `Date.now`. */
  clock?: () => number;
  /** Receives errors the collector hits while serving (never thrown into the host). Default: stderr. */
  onError?: (error: Error) => void;

  /** Events per `/import` or `/track` request. Default 2000 (contract §2.1). */
  maxBatchEvents?: number;
  /** Uncompressed bytes per request; more answers 413. Default 10,000,000 (contract §2.1, U2: `/track`'s cap is assumed equal). */
  maxRequestBytes?: number;
  /** Each event's JSON must be smaller than this. Default 1,000,000 bytes (contract §2.1). */
  maxEventBytes?: number;
  /** Most properties an event may carry. Default 254: "fewer than 255" (contract §2.1, U11). */
  maxProperties?: number;
  /** `/track` refuses events older than this, in ms. Default 5 days (contract §2.2). */
  trackMaxAgeMs?: number;
  /** Events further ahead than this (ms) are refused. Default 1 hour (contract §2.2). */
  maxFutureMs?: number;

  /** U3: an event less than `maxFutureMs` ahead is stored at the current time (`'clamp'`, default) or refused (`'reject'`). */
  futureTime?: 'clamp' | 'reject';
  /** U10: a numeric `time` at or above this is milliseconds, below it seconds. Default 1e11 (year 5138 in seconds). */
  millisecondsFrom?: number;
  /** U1: the key naming the record's `$insert_id` in `failed_records`. Default `'insert_id'` (Mixpanel's OpenAPI file). */
  failedRecordInsertIdKey?: 'insert_id' | '$insert_id';
  /** Whether `/import` without `strict` behaves strictly. Default false: the legacy form answers like `/track` (mixpanel-node relies on it). */
  strictByDefault?: boolean;
  /** Strict `/import` refuses events without `$insert_id` (contract §1.3 lists it as required). Default true. */
  requireInsertId?: boolean;
  /** U5/§5.4: how strict `/import` reports `$identify`/`$create_alias`/`$merge`: a bare string (default, as probed live) or a record object. */
  identityEventFailure?: 'string' | 'object';
  /** U5/§5.4: a verb in a strict batch fails only its own record (`'record'`, default) or the whole batch (`'batch'`). */
  identityEventScope?: 'record' | 'batch';
  /** U5: `/track` and non-strict `/import` store identity verbs as plain events without identity effect (`'store'`, default) or drop them. */
  identityEventsElsewhere?: 'store' | 'drop';
  /** U6/C12: an event with no `distinct_id`, `$device_id` or `$user_id` is refused (`'reject'`, default) or keyed by a hash of the client
   * address (`'ip-hash'`). `/track?ip=1` always hashes, as Mixpanel's OpenAPI file documents. */
  missingDistinctId?: 'reject' | 'ip-hash';
  /** U7/C9: an unprefixed `distinct_id` sent with only `$device_id` is overridden by `$device:<id>` (`'override'`, default, the docs'
   * wording) or taken as the user id (`'user'`, which links the device to it). */
  distinctIdWithDevice?: 'override' | 'user';
  /** U7/C15: a `$user_id` starting with `$device:` is stored as sent (`'accept'`, default) or refused (`'reject'`). */
  devicePrefixedUserId?: 'accept' | 'reject';
  /** C16: deny-listed ids on `/track` refuse the event (`'reject'`, default, as strict `/import` does) or pass (`'accept'`). */
  denylistedIdsOnTrack?: 'reject' | 'accept';
  /** U9: which `distinct_id` enters the de-duplication key: the one stored at ingestion (`'stored'`, default) or the resolved one. */
  dedupeBy?: 'stored' | 'canonical';
  /** U8: `/engage` to `$device:D` after D is linked updates that exact profile (`'exact'`, default) or the user's (`'cluster'`). */
  profileRouting?: 'exact' | 'cluster';
  /** U15: mark an event whose device was already linked to another user with
   * `$identity_failure_reason: "errAnonDistinctIdAssignedAlready"`. Default true. */
  identityFailureReason?: boolean;
  /** U11: strings longer than 255 are truncated to 255 `'characters'` (default) or UTF-8 `'bytes'`, or kept (`false`). */
  truncateStrings?: 'characters' | 'bytes' | false;
  /** §3.1: records carrying the wrong token are ignored and the reply still says `1` (`'silent'`, default: "`1` does not signify a
   * valid project token") or they count as invalid (`'reject'`). */
  wrongTokenOnTrack?: 'silent' | 'reject';
  /** §1.3: non-strict `/import` with wrong credentials answers `{status:1}` and stores nothing (`'silent'`, default, as reported) or 401. */
  legacyImportAuthFailure?: 'silent' | '401';
  /** U12: `/engage` and `/groups` accept gzip bodies (default true; Mixpanel's docs say `/engage` does not support gzip). */
  gzipProfiles?: boolean;
  /** Keep the event property `ip` (Mixpanel uses it for geolocation and discards it). Default false. */
  keepIp?: boolean;
}

export type Endpoint = 'import' | 'track' | 'engage' | 'groups';

/** Limits and defaults in one place (units in comments). */
export const COLLECTOR_DEFAULTS = {
  port: 7600,
  host: '127.0.0.1',
  storage: ':memory:',
  maxBatchEvents: API_LIMITS.batchEvents,
  maxRequestBytes: API_LIMITS.batchBytes, // uncompressed
  maxEventBytes: API_LIMITS.eventBytes, // each event must be smaller
  maxProperties: API_LIMITS.properties - 1, // "fewer than 255"
  trackMaxAgeMs: 5 * 24 * 60 * 60 * 1000, // ms: /track's 5-day window
  maxFutureMs: 60 * 60 * 1000, // ms: "more than 1 hour in the future" is refused
  millisecondsFrom: MILLISECONDS_FROM, // a time at or above this is ms
  stringLimit: API_LIMITS.stringId, // characters kept in a string value or a property name
  futureTime: 'clamp',
  failedRecordInsertIdKey: 'insert_id',
  strictByDefault: false,
  requireInsertId: true,
  identityEventFailure: 'string',
  identityEventScope: 'record',
  identityEventsElsewhere: 'store',
  missingDistinctId: 'reject',
  distinctIdWithDevice: MIXPANEL_RULES.distinctIdWithDevice,
  devicePrefixedUserId: 'accept',
  denylistedIdsOnTrack: 'reject',
  dedupeBy: 'stored',
  profileRouting: 'exact',
  identityFailureReason: true,
  truncateStrings: 'characters',
  wrongTokenOnTrack: 'silent',
  legacyImportAuthFailure: 'silent',
  gzipProfiles: true,
  keepIp: false,
} as const;

/** The normalised, frozen configuration every request reads. */
export interface CollectorConfig {
  readonly port: number;
  readonly host: string;
  readonly storage: string;
  readonly token: string | undefined;
  readonly secret: string | undefined;
  readonly serviceAccount: { readonly username: string; readonly secret: string; readonly projectId: string } | undefined;
  readonly faults: readonly NormalizedFault[];
  readonly clock: () => number;
  readonly onError: (error: Error) => void;
  readonly maxBatchEvents: number;
  readonly maxRequestBytes: number;
  readonly maxEventBytes: number;
  readonly maxProperties: number;
  readonly trackMaxAgeMs: number;
  readonly maxFutureMs: number;
  readonly futureTime: 'clamp' | 'reject';
  readonly millisecondsFrom: number;
  readonly failedRecordInsertIdKey: 'insert_id' | '$insert_id';
  readonly strictByDefault: boolean;
  readonly requireInsertId: boolean;
  readonly identityEventFailure: 'string' | 'object';
  readonly identityEventScope: 'record' | 'batch';
  readonly identityEventsElsewhere: 'store' | 'drop';
  readonly missingDistinctId: 'reject' | 'ip-hash';
  readonly distinctIdWithDevice: 'override' | 'user';
  readonly devicePrefixedUserId: 'accept' | 'reject';
  readonly denylistedIdsOnTrack: 'reject' | 'accept';
  readonly dedupeBy: 'stored' | 'canonical';
  readonly profileRouting: 'exact' | 'cluster';
  readonly identityFailureReason: boolean;
  readonly truncateStrings: 'characters' | 'bytes' | false;
  readonly wrongTokenOnTrack: 'silent' | 'reject';
  readonly legacyImportAuthFailure: 'silent' | '401';
  readonly gzipProfiles: boolean;
  readonly keepIp: boolean;
  /** True when any credential is configured: `/import` and the query API then need one. */
  readonly authRequired: boolean;
}

const CHOICES = {
  futureTime: ['clamp', 'reject'],
  failedRecordInsertIdKey: ['insert_id', '$insert_id'],
  identityEventFailure: ['string', 'object'],
  identityEventScope: ['record', 'batch'],
  identityEventsElsewhere: ['store', 'drop'],
  missingDistinctId: ['reject', 'ip-hash'],
  distinctIdWithDevice: ['override', 'user'],
  devicePrefixedUserId: ['accept', 'reject'],
  denylistedIdsOnTrack: ['reject', 'accept'],
  dedupeBy: ['stored', 'canonical'],
  profileRouting: ['exact', 'cluster'],
  wrongTokenOnTrack: ['silent', 'reject'],
  legacyImportAuthFailure: ['silent', '401'],
} as const satisfies Partial<Record<keyof CollectorOptions, readonly string[]>>;

/** [option, min, max] of the integer options. */
type IntegerOption =
  'port' | 'maxBatchEvents' | 'maxRequestBytes' | 'maxEventBytes' | 'maxProperties' | 'trackMaxAgeMs' | 'maxFutureMs' | 'millisecondsFrom';
const INTEGERS: ReadonlyArray<readonly [IntegerOption, number, number]> = [
  ['port', 0, 65_535],
  ['maxBatchEvents', 1, 1_000_000],
  ['maxRequestBytes', 1024, 2 ** 31 - 1],
  ['maxEventBytes', 64, 2 ** 31 - 1],
  ['maxProperties', 1, 100_000],
  ['trackMaxAgeMs', 0, 2 ** 52],
  ['maxFutureMs', 0, 2 ** 52],
  ['millisecondsFrom', 1, 2 ** 52],
];

const BOOLEANS = ['strictByDefault', 'requireInsertId', 'identityFailureReason', 'gzipProfiles', 'keepIp'] as const;
const OTHER = ['host', 'storage', 'token', 'secret', 'serviceAccount', 'faults', 'clock', 'onError', 'truncateStrings'] as const;
const KNOWN: ReadonlySet<string> = new Set<string>([...Object.keys(CHOICES), ...INTEGERS.map(([key]) => key), ...BOOLEANS, ...OTHER]);

/** Validates `options` once and returns a new frozen config; throws `ConfigError` naming the option. Never mutates `options`. */
export function normalizeCollectorOptions(options: CollectorOptions = {}): CollectorConfig {
  if (!isPlainObject(options as unknown)) throw new ConfigError('options', `must be an object, got ${describe(options)}`);
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new ConfigError(key, `is not a collector option (known: ${[...KNOWN].join(', ')})`);
  }
  const source = options as Record<string, unknown>;

  const choices: Record<string, string> = {};
  for (const [key, values] of Object.entries(CHOICES)) {
    const value = source[key];
    if (value === undefined) choices[key] = COLLECTOR_DEFAULTS[key as keyof typeof CHOICES];
    else if (typeof value === 'string' && (values as readonly string[]).includes(value)) choices[key] = value;
    else throw new ConfigError(key, `must be one of ${values.map((v) => JSON.stringify(v)).join(', ')}, got ${describe(value)}`);
  }
  const integers: Record<string, number> = {};
  for (const [key, min, max] of INTEGERS) {
    const value = source[key];
    if (value === undefined) integers[key] = COLLECTOR_DEFAULTS[key] as number;
    else if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) integers[key] = value;
    else throw new ConfigError(key, `must be an integer from ${min} to ${max}, got ${describe(value)}`);
  }
  const booleans: Record<string, boolean> = {};
  for (const key of BOOLEANS) {
    const value = source[key];
    if (value === undefined) booleans[key] = COLLECTOR_DEFAULTS[key];
    else if (typeof value === 'boolean') booleans[key] = value;
    else throw new ConfigError(key, `must be true or false, got ${describe(value)}`);
  }

  const truncateStrings = options.truncateStrings ?? COLLECTOR_DEFAULTS.truncateStrings;
  if (truncateStrings !== false && truncateStrings !== 'characters' && truncateStrings !== 'bytes') {
    throw new ConfigError('truncateStrings', `must be 'characters', 'bytes' or false, got ${describe(truncateStrings)}`);
  }
  const host = optionalString(options.host, 'host') ?? COLLECTOR_DEFAULTS.host;
  const storage = optionalString(options.storage, 'storage') ?? COLLECTOR_DEFAULTS.storage;
  const token = optionalString(options.token, 'token');
  const secret = optionalString(options.secret, 'secret');
  const serviceAccount = normalizeServiceAccount(options.serviceAccount);
  for (const key of ['clock', 'onError'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'function') {
      throw new ConfigError(key, `must be a function, got ${describe(options[key])}`);
    }
  }
  if (options.faults !== undefined && !Array.isArray(options.faults)) {
    throw new ConfigError('faults', `must be an array of fault specs, got ${describe(options.faults)}`);
  }
  let faults: NormalizedFault[];
  try {
    faults = normalizeFaults(options.faults ?? []);
  } catch (error) {
    throw new ConfigError('faults', (error as Error).message);
  }

  return Object.freeze({
    ...(choices as Pick<CollectorConfig, keyof typeof CHOICES>),
    ...(integers as Pick<CollectorConfig, IntegerOption>),
    ...(booleans as Pick<CollectorConfig, (typeof BOOLEANS)[number]>),
    host,
    storage,
    token,
    secret,
    serviceAccount,
    faults: Object.freeze(faults),
    clock: options.clock ?? Date.now,
    onError: options.onError ?? ((error: Error) => console.error('idstitch collector:', error)),
    truncateStrings,
    authRequired: token !== undefined || secret !== undefined || serviceAccount !== undefined,
  });
}

function optionalString(value: unknown, option: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw new ConfigError(option, `must be a non-empty string, got ${describe(value)}`);
  return value;
}

function normalizeServiceAccount(value: ServiceAccount | undefined): CollectorConfig['serviceAccount'] {
  if (value === undefined) return undefined;
  if (!isPlainObject(value as unknown)) throw new ConfigError('serviceAccount', 'must be { username, secret, projectId }');
  const username = optionalString(value.username, 'serviceAccount.username');
  const secret = optionalString(value.secret, 'serviceAccount.secret');
  const projectId = value.projectId;
  if (username === undefined || secret === undefined) throw new ConfigError('serviceAccount', 'needs a username and a secret');
  if (!(
    (typeof projectId === 'string' && /^\d+$/.test(projectId)) ||
    (typeof projectId === 'number' && Number.isSafeInteger(projectId) && projectId > 0)
  )) {
    throw new ConfigError('serviceAccount.projectId', `must be the numeric project id, got ${describe(projectId)}`);
  }
  return Object.freeze({ username, secret, projectId: String(projectId) });
}

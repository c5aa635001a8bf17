import { API_LIMITS, isPlainObject } from '../options.js';
import { DENYLISTED_IDS } from '../user.js';
import { UnparseableRecord } from './body.js';
import { deriveIdentity, IDENTITY_EVENTS } from '../id-merge.js';
import type { CollectorConfig } from './options.js';
import type { EventRecord } from './store.js';

/** The strict-`/import` answer to identity verbs in a Simplified project, as probed live (contract §5.4). */
export const IDENTITY_EVENT_MESSAGE = 'identity events are not allowed when project is using simplified identity management';

/** 1971-01-01T00:00:00Z in ms: Mixpanel refuses earlier times (contract §2.2). */
const EARLIEST_TIME = Date.UTC(1971, 0, 1);
const INSERT_ID = /^[A-Za-z0-9-]{1,36}$/;

export interface ValidationContext {
  readonly config: CollectorConfig;
  readonly endpoint: 'import' | 'track';
  readonly strict: boolean;
  /** ms */
  readonly now: number;
  /** Check each event's serialised size (only needed when the whole body could hold one too large). */
  readonly checkEventSize: boolean;
  /** The `distinct_id` for events that carry none, when the request says to hash the client address. */
  readonly ipHash: string | undefined;
}

/** What became of one record. */
export type Prepared =
  | { readonly kind: 'store'; readonly record: EventRecord }
  /** Accepted and not stored: `$ignore` (contract §2.1), a verb set to drop, a wrong token under `'silent'`. */
  | { readonly kind: 'skip' }
  | {
      readonly kind: 'fail';
      readonly field: string;
      readonly message: string;
      readonly insertId: string | undefined;
      readonly identityEvent: boolean;
    };

type Failure = Extract<Prepared, { kind: 'fail' }>;

/**
 * Validates one event as Mixpanel's ingestion does (contract §2.1, §2.2, §4, §5.3) and turns it into what
 * is stored: time in ms, identity derived (§5.10), long strings truncated, `ip` removed. Mutates `raw`,
 * which the caller parsed and owns.
 */
export function prepareEvent(raw: unknown, context: ValidationContext): Prepared {
  const { config } = context;
  if (raw instanceof UnparseableRecord) return fail('record', `line ${raw.line} is not valid JSON`);
  if (!isPlainObject(raw)) return fail('record', 'each record must be a JSON object with "event" and "properties"');
  const properties = raw.properties ?? {};
  if (!isPlainObject(properties)) return fail('properties', "'properties' is invalid: must be an object");
  const insertId = typeof properties.$insert_id === 'string' ? properties.$insert_id : undefined;
  const failure = (field: string, message: string): Failure => fail(field, message, insertId);

  const name = raw.event;
  if (typeof name !== 'string' || name.trim() === '') return failure('event', "'event' must not be missing or blank");
  const verb = IDENTITY_EVENTS.has(name);
  if (verb && context.endpoint === 'import' && context.strict) return { ...failure('event', IDENTITY_EVENT_MESSAGE), identityEvent: true };
  if (verb && config.identityEventsElsewhere === 'drop') return { kind: 'skip' };
  if (isTruthy(properties.$ignore)) return { kind: 'skip' };

  if (context.endpoint === 'track' && config.token !== undefined && properties.token !== config.token) {
    if (config.wrongTokenOnTrack === 'silent') return { kind: 'skip' };
    return failure('properties.token', "'properties.token' is invalid: not this project's token");
  }

  if (context.checkEventSize) {
    const bytes = Buffer.byteLength(JSON.stringify(raw));
    if (bytes >= config.maxEventBytes)
      return failure('properties', `event is ${bytes} bytes; each event must be smaller than ${config.maxEventBytes} bytes`);
  }
  const shape = checkShape(properties, config.maxProperties);
  if (shape) return failure(shape.field, shape.message);

  const time = normalizeTime(properties.time, context);
  if (typeof time === 'string') return failure('properties.time', time);
  properties.time = time;

  let storedInsertId: string | null = null;
  if (properties.$insert_id !== undefined && properties.$insert_id !== null) {
    const value = properties.$insert_id;
    if (typeof value !== 'string' || !INSERT_ID.test(value) || DENYLISTED_IDS.has(value.toLowerCase())) {
      return failure(
        'properties.$insert_id',
        "'properties.$insert_id' is invalid: must be at most 36 bytes of letters, digits or '-', and not a placeholder",
      );
    }
    storedInsertId = value;
  } else if (context.endpoint === 'import' && context.strict && config.requireInsertId) {
    return failure('properties.$insert_id', "'properties.$insert_id' is invalid: must not be missing");
  }

  const checkDenylist = context.endpoint === 'import' || config.denylistedIdsOnTrack === 'reject';
  const ids: Record<'distinct_id' | '$device_id' | '$user_id', string | undefined> = {
    distinct_id: undefined,
    $device_id: undefined,
    $user_id: undefined,
  };
  for (const key of ['distinct_id', '$device_id', '$user_id'] as const) {
    const value = properties[key];
    if (value === undefined || value === null) continue;
    if (typeof value === 'string') ids[key] = value;
    else if (typeof value === 'number' && Number.isFinite(value)) ids[key] = String(value);
    else return failure(`properties.${key}`, `'properties.${key}' is invalid: must be a string`);
    if (checkDenylist && DENYLISTED_IDS.has(ids[key]!.toLowerCase())) {
      return failure(`properties.${key}`, `'properties.${key}' is invalid: ${JSON.stringify(ids[key])} is a placeholder value, not an id`);
    }
  }
  if (config.devicePrefixedUserId === 'reject' && ids.$user_id?.startsWith('$device:')) {
    return failure('properties.$user_id', `'properties.$user_id' is invalid: must not start with "$device:"`);
  }

  if (config.truncateStrings !== false) truncateStrings(properties, config.truncateStrings);
  const identity = deriveIdentity(
    { distinctId: ids.distinct_id, deviceId: ids.$device_id, userId: ids.$user_id },
    { distinctIdWithDevice: config.distinctIdWithDevice },
  );
  const distinctId = identity.distinctId ?? context.ipHash;
  if (distinctId === undefined) return failure('properties.distinct_id', "'properties.distinct_id' is invalid: must not be missing");
  properties.distinct_id = distinctId;
  if (identity.deviceId !== undefined) properties.$device_id = identity.deviceId;
  if (identity.userId !== undefined) properties.$user_id = identity.userId;
  if (!config.keepIp) delete properties.ip; // used for geolocation, never stored (contract §7)

  return {
    kind: 'store',
    record: { event: name, time, insertId: storedInsertId, identity, distinctId, link: !verb, properties, endpoint: context.endpoint },
  };
}

function fail(field: string, message: string, insertId?: string): Failure {
  return { kind: 'fail', field, message, insertId, identityEvent: false };
}

/** `$ignore` drops an event when `true` or a non-empty string; `''` and `false` do not (contract §2.1). */
function isTruthy(value: unknown): boolean {
  return value === true || (typeof value === 'string' && value !== '');
}

/**
 * `time` in seconds or ms (contract §2.2; values at or above `millisecondsFrom` are ms, U10) → integer ms,
 * or the strict-mode message saying why not. `/track` uses the arrival time when there is none.
 */
function normalizeTime(value: unknown, context: ValidationContext): number | string {
  const { config, now } = context;
  if (value === undefined || value === null) {
    if (context.endpoint === 'track') return now;
    return "'properties.time' is invalid: must not be missing";
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) return "'properties.time' is invalid: must be specified as seconds since epoch";
  const ms = Math.round(value >= config.millisecondsFrom ? value : value * 1000);
  if (ms < EARLIEST_TIME) return "'properties.time' is invalid: must not be before 1971-01-01";
  if (ms > now + config.maxFutureMs) return "'properties.time' is invalid: must not be in the future";
  if (ms > now) return config.futureTime === 'clamp' ? now : "'properties.time' is invalid: must not be in the future";
  if (context.endpoint === 'track' && ms < now - config.trackMaxAgeMs) {
    return "'properties.time' is invalid: /track only accepts events from the last 5 days; use /import";
  }
  return ms;
}

/** The property-count, nesting, key and list limits (contract §2.1), or the first one broken. */
function checkShape(properties: Record<string, unknown>, maxProperties: number): { field: string; message: string } | undefined {
  const keys = Object.keys(properties);
  if (keys.length > maxProperties) {
    return { field: 'properties', message: `'properties' is invalid: has ${keys.length} properties; at most ${maxProperties} are allowed` };
  }
  for (const key of keys) {
    const value = properties[key];
    if (value !== null && typeof value === 'object') {
      const problem = checkNested(value, 1);
      if (problem) return { field: `properties.${key}`, message: `'properties.${key}' is invalid: ${problem}` };
    }
  }
  return undefined;
}

function checkNested(value: object, depth: number): string | undefined {
  if (depth > API_LIMITS.nestingDepth) return `nested deeper than ${API_LIMITS.nestingDepth} levels`;
  const children = Array.isArray(value) ? value : Object.values(value);
  if (Array.isArray(value) && value.length >= API_LIMITS.arrayItems) return `lists must have fewer than ${API_LIMITS.arrayItems} elements`;
  if (!Array.isArray(value) && children.length >= API_LIMITS.nestedKeys)
    return `objects must have fewer than ${API_LIMITS.nestedKeys} keys`;
  for (const child of children) {
    if (child !== null && typeof child === 'object') {
      const problem = checkNested(child as object, depth + 1);
      if (problem) return problem;
    }
  }
  return undefined;
}

/** Mixpanel truncates strings and property names to 255 (contract §2.1; characters vs bytes is U11). */
function truncateStrings(object: Record<string, unknown>, unit: 'characters' | 'bytes'): void {
  for (const key of Object.keys(object)) {
    const value = object[key];
    let name = key;
    if (key.length > API_LIMITS.stringId) {
      name = truncate(key, unit);
      delete object[key];
      object[name] = value;
    }
    if (typeof value === 'string') {
      if (value.length > (unit === 'bytes' ? API_LIMITS.stringId / 4 : API_LIMITS.stringId)) object[name] = truncate(value, unit);
    } else if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) if (typeof value[i] === 'string') value[i] = truncate(value[i] as string, unit);
    } else if (isPlainObject(value)) {
      truncateStrings(value, unit);
    }
  }
}

function truncate(text: string, unit: 'characters' | 'bytes'): string {
  if (unit === 'characters') return text.length > API_LIMITS.stringId ? text.slice(0, API_LIMITS.stringId) : text;
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= API_LIMITS.stringId) return text;
  // Cutting inside a multi-byte character leaves a replacement character: drop it.
  return bytes
    .subarray(0, API_LIMITS.stringId)
    .toString('utf8')
    .replace(/\uFFFD+$/, '');
}

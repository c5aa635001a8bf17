import { randomBytes } from 'node:crypto';
import { InvalidEventError } from './errors.js';
import { flatJson, jsonString, nameJson } from './json.js';
import { API_LIMITS, describe, isPlainObject } from './options.js';
import { checkProperties, OVERRIDABLE, type Overrides } from './properties.js';
import { LIBRARY_NAME, LIBRARY_VERSION } from './version.js';

/** Events with no meaning in Simplified ID Merge, refused by strict /import (mixpanel-contract §5.4). */
export const IDENTITY_EVENTS: ReadonlySet<string> = new Set(['$identify', '$create_alias', '$merge']);

export interface Identity {
  deviceId?: string | undefined;
  userId?: string | undefined;
}

/** A validated event, serialised once at capture so retries resend identical bytes. */
export interface QueuedEvent {
  readonly json: string;
  readonly bytes: number;
  readonly insertId: string;
}

export interface EventContext {
  readonly endpoint: 'import' | 'track';
  readonly token: string | undefined;
  readonly superProperties: Readonly<Record<string, unknown>> | undefined;
}

/**
 * Builds the Mixpanel event for `name` and `properties`: `distinct_id: ""` (Mixpanel derives it
 * from `$user_id`, else `$device:` + `$device_id`), `time` in ms and `$insert_id` fixed now,
 * library name and version, `ip: "0"` unless given (so Mixpanel does not place every user at the
 * server), super properties under the caller's. Throws `InvalidEventError`; never mutates input.
 */
export function buildEvent(
  context: EventContext,
  name: unknown,
  properties: unknown,
  identity: Identity,
  now: number,
  fromRequest?: Readonly<Record<string, unknown>>,
): QueuedEvent {
  try {
    return build(context, name, properties, identity, now, fromRequest);
  } catch (error) {
    if (error instanceof InvalidEventError) throw error;
    // A getter, a Proxy trap or a toJSON of the caller's that throws is bad input, not our failure.
    const event = typeof name === 'string' ? name.slice(0, 40) : undefined;
    throw new InvalidEventError(
      'IDSTITCH_INVALID_PROPERTIES',
      `reading the properties of ${event === undefined ? 'the event' : JSON.stringify(event)} threw: ${(error as Error)?.message ?? String(error)}`,
      event,
    );
  }
}

function build(
  context: EventContext,
  name: unknown,
  properties: unknown,
  identity: Identity,
  now: number,
  fromRequest: Readonly<Record<string, unknown>> | undefined,
): QueuedEvent {
  if (typeof name !== 'string' || name.trim() === '') {
    throw new InvalidEventError('IDSTITCH_INVALID_EVENT_NAME', `event name must be a non-empty string, got ${describe(name)}`, undefined);
  }
  if (name.length > API_LIMITS.stringId) {
    throw new InvalidEventError(
      'IDSTITCH_INVALID_EVENT_NAME',
      `event name is ${name.length} characters; the limit is ${API_LIMITS.stringId}`,
      name.slice(0, 40),
    );
  }
  if (IDENTITY_EVENTS.has(name)) {
    throw new InvalidEventError(
      'IDSTITCH_IDENTITY_EVENT',
      `${name} is an Original ID Merge event: Simplified projects reject it on strict /import. Call identifyUser(req) on login instead; it sends an ordinary event carrying $device_id and $user_id, which is what links them`,
      name,
    );
  }
  if (properties !== undefined && properties !== null && !isPlainObject(properties)) {
    throw new InvalidEventError(
      'IDSTITCH_INVALID_PROPERTIES',
      `properties of "${name}" must be a plain object, got ${describe(properties)}`,
      name,
    );
  }
  const own = (properties ?? undefined) as Record<string, unknown> | undefined;

  // The caller may set these (an idempotency key, a historical time, a real client ip); the
  // identity and auth fields are never theirs.
  const overrides: Overrides = {};
  const fromSuper = context.superProperties ? checkProperties(name, context.superProperties, overrides, 'super property') : 0;
  // The request's properties (`requestProperties`) sit between the two: checked in that order, so a later layer's ip wins.
  const fromContext = fromRequest ? checkProperties(name, fromRequest, overrides, 'request property') : 0;
  const fromOwn = own ? checkProperties(name, own, overrides, 'property') : 0;

  // The rest of the properties, serialised by JSON.stringify; ours are written around them below.
  let rest: Readonly<Record<string, unknown>> | undefined;
  if (fromSuper > 0 || fromContext > 0 || (overrides.found && fromOwn > 0)) {
    const merged: Record<string, unknown> = {};
    for (const source of [context.superProperties, fromRequest, own]) {
      if (!source) continue;
      for (const key of Object.keys(source)) if (!OVERRIDABLE.has(key) && source[key] !== undefined) merged[key] = source[key];
    }
    rest = merged;
  } else if (fromOwn > 0) {
    rest = own;
  }
  const restJson = rest === undefined ? '{}' : (flatJson(rest) ?? JSON.stringify(rest));

  const token = context.endpoint === 'track' ? context.token : undefined;
  // Properties with a value: what JSON.stringify writes (an own property's undefined it leaves out).
  const others = rest === undefined ? 0 : rest === own ? fromOwn : Object.keys(rest).length;
  const count =
    7 + (identity.deviceId !== undefined ? 1 : 0) + (identity.userId !== undefined ? 1 : 0) + (token !== undefined ? 1 : 0) + others;
  if (count >= API_LIMITS.properties) {
    throw new InvalidEventError(
      'IDSTITCH_INVALID_PROPERTIES',
      `"${name}" has ${count} properties with idstitch's own; Mixpanel accepts fewer than ${API_LIMITS.properties}`,
      name,
    );
  }

  const insertId = overrides.$insert_id ?? nextInsertId();
  // Written by hand around the caller's properties: one JSON.stringify of a small object instead of
  // building and serialising a merged copy of everything (this is the per-event hot path).
  let json = '{"event":' + nameJson(name) + ',"properties":{"time":' + (overrides.time ?? now) + ',"distinct_id":""';
  if (identity.deviceId !== undefined) json += ',"$device_id":' + jsonString(identity.deviceId);
  if (identity.userId !== undefined) json += ',"$user_id":' + jsonString(identity.userId);
  // Ours is [0-9a-z-] only and needs no escaping; a caller's was checked against the same set.
  json +=
    ',"$insert_id":"' +
    insertId +
    '"' +
    ',"mp_lib":' +
    (overrides.mp_lib ?? LIBRARY_JSON) +
    ',"$lib_version":' +
    (overrides.$lib_version ?? VERSION_JSON);
  // /track authenticates by the token inside each event; /import by the Authorization header.
  if (token !== undefined) json += ',"token":' + jsonString(token);
  // Without an ip, Mixpanel would geolocate every user at the server (contract §7).
  json += ',"ip":' + (overrides.ip ?? '"0"');
  json += restJson === '{}' ? '}}' : ',' + restJson.slice(1) + '}';

  const bytes = Buffer.byteLength(json);
  if (bytes >= API_LIMITS.eventBytes) {
    throw new InvalidEventError(
      'IDSTITCH_EVENT_TOO_LARGE',
      `"${name}" is ${bytes} bytes as JSON; Mixpanel accepts events under ${API_LIMITS.eventBytes}`,
      name,
    );
  }
  return { json, bytes, insertId };
}

/**
 * `$insert_id`s: 80 random bits drawn once per process, then a counter, 32 characters of
 * [0-9a-z-]. Unique per event (Mixpanel dedupes on event, time, distinct_id and this id, so it only
 * has to differ between events), cheaper than a UUID per event, and the shared prefix compresses
 * within a batch where a UUID's 122 random bits cannot. Fixed width, so events of the same content
 * are the same size.
 */
const INSERT_ID_PREFIX = randomBytes(10).toString('hex') + '-';
let insertIds = 0;

function nextInsertId(): string {
  return INSERT_ID_PREFIX + (insertIds++).toString(36).padStart(11, '0');
}

const LIBRARY_JSON = JSON.stringify(LIBRARY_NAME);
const VERSION_JSON = JSON.stringify(LIBRARY_VERSION);

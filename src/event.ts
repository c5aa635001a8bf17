import { randomBytes } from 'node:crypto';
import { InvalidEventError } from './errors.js';
import { API_LIMITS, describe, isPlainObject } from './options.js';
import { LIBRARY_NAME, LIBRARY_VERSION } from './version.js';

/** Properties that carry identity or auth: set by idstitch, never by the caller. */
const RESERVED = new Set(['distinct_id', '$device_id', '$user_id', 'token']);
/**
 * The shapes that pollute prototypes in whatever later merges the data naively (a warehouse job,
 * an export script), refused at any depth rather than passed on: `__proto__` always, and
 * `constructor` / `prototype` holding an object. As plain strings or numbers they are ordinary names.
 */
function isPollutingKey(key: string, value: unknown): boolean {
  return key === '__proto__' || ((key === 'constructor' || key === 'prototype') && typeof value === 'object' && value !== null);
}
/** Events with no meaning in Simplified ID Merge, refused by strict /import (mixpanel-contract §5.4). */
export const IDENTITY_EVENTS: ReadonlySet<string> = new Set(['$identify', '$create_alias', '$merge']);
const INSERT_ID = /^[A-Za-z0-9-]{1,36}$/;

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
export function buildEvent(context: EventContext, name: unknown, properties: unknown, identity: Identity, now: number, fromRequest?: Readonly<Record<string, unknown>>): QueuedEvent {
  try {
    return build(context, name, properties, identity, now, fromRequest);
  } catch (error) {
    if (error instanceof InvalidEventError) throw error;
    // A getter, a Proxy trap or a toJSON of the caller's that throws is bad input, not our failure.
    const event = typeof name === 'string' ? name.slice(0, 40) : undefined;
    throw new InvalidEventError('IDSTITCH_INVALID_PROPERTIES', `reading the properties of ${event === undefined ? 'the event' : JSON.stringify(event)} threw: ${(error as Error)?.message ?? String(error)}`, event);
  }
}

function build(context: EventContext, name: unknown, properties: unknown, identity: Identity, now: number, fromRequest: Readonly<Record<string, unknown>> | undefined): QueuedEvent {
  if (typeof name !== 'string' || name.trim() === '') {
    throw new InvalidEventError('IDSTITCH_INVALID_EVENT_NAME', `event name must be a non-empty string, got ${describe(name)}`, undefined);
  }
  if (name.length > API_LIMITS.stringId) {
    throw new InvalidEventError('IDSTITCH_INVALID_EVENT_NAME', `event name is ${name.length} characters; the limit is ${API_LIMITS.stringId}`, name.slice(0, 40));
  }
  if (IDENTITY_EVENTS.has(name)) {
    throw new InvalidEventError(
      'IDSTITCH_IDENTITY_EVENT',
      `${name} is an Original ID Merge event: Simplified projects reject it on strict /import. Call identifyUser(req) on login instead; it sends an ordinary event carrying $device_id and $user_id, which is what links them`,
      name,
    );
  }
  if (properties !== undefined && properties !== null && !isPlainObject(properties)) {
    throw new InvalidEventError('IDSTITCH_INVALID_PROPERTIES', `properties of "${name}" must be a plain object, got ${describe(properties)}`, name);
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
  const count = 7 + (identity.deviceId !== undefined ? 1 : 0) + (identity.userId !== undefined ? 1 : 0) + (token !== undefined ? 1 : 0) + others;
  if (count >= API_LIMITS.properties) {
    throw new InvalidEventError('IDSTITCH_INVALID_PROPERTIES', `"${name}" has ${count} properties with idstitch's own; Mixpanel accepts fewer than ${API_LIMITS.properties}`, name);
  }

  const insertId = overrides.$insert_id ?? nextInsertId();
  // Written by hand around the caller's properties: one JSON.stringify of a small object instead of
  // building and serialising a merged copy of everything (this is the per-event hot path).
  let json =
    '{"event":' + nameJson(name) +
    ',"properties":{"time":' + timeJson(overrides.time ?? now) +
    ',"distinct_id":""';
  if (identity.deviceId !== undefined) json += ',"$device_id":' + jsonString(identity.deviceId);
  if (identity.userId !== undefined) json += ',"$user_id":' + jsonString(identity.userId);
  // Ours is [0-9a-z-] only and needs no escaping; a caller's was checked against the same set.
  json += ',"$insert_id":"' + insertId + '"' +
    ',"mp_lib":' + (overrides.mp_lib ?? LIBRARY_JSON) +
    ',"$lib_version":' + (overrides.$lib_version ?? VERSION_JSON);
  // /track authenticates by the token inside each event; /import by the Authorization header.
  if (token !== undefined) json += ',"token":' + jsonString(token);
  // Without an ip, Mixpanel would geolocate every user at the server (contract §7).
  json += ',"ip":' + (overrides.ip ?? '"0"');
  json += restJson === '{}' ? '}}' : ',' + restJson.slice(1) + '}';

  const bytes = Buffer.byteLength(json);
  if (bytes >= API_LIMITS.eventBytes) {
    throw new InvalidEventError('IDSTITCH_EVENT_TOO_LARGE', `"${name}" is ${bytes} bytes as JSON; Mixpanel accepts events under ${API_LIMITS.eventBytes}`, name);
  }
  return { json, bytes, insertId };
}

/**
 * `$insert_id`s: 80 random bits drawn once per process, then a counter. Unique per event (Mixpanel
 * dedupes on event, time, distinct_id and this id, so it only has to differ between events), within
 * the 36 characters of [A-Za-z0-9-] Mixpanel allows, cheaper than a UUID per event, and the shared
 * prefix compresses within a batch where a UUID's 122 random bits cannot.
 */
const INSERT_ID_PREFIX = randomBytes(10).toString('hex') + '-';
const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz';
let insertIds = 0;
/** All of the id but its last character, which changes every event; the rest every 36th. */
let insertIdHead = '';

function nextInsertId(): string {
  const n = insertIds++;
  const last = n % 36;
  // Fixed width (32 characters), so events of the same content are the same size. The counter is
  // written in base 36 once per 36 events: a number-to-string conversion is a runtime call in V8.
  if (last === 0 || insertIdHead === '') insertIdHead = INSERT_ID_PREFIX + Math.floor(n / 36).toString(36).padStart(10, '0');
  return insertIdHead + BASE36[last]!;
}

/** `time` as JSON: the same millisecond serves several events, and converting a timestamp (not a small integer) to a string is a runtime call. */
let lastTime = -1;
let lastTimeJson = '';

function timeJson(ms: number): string {
  if (ms !== lastTime) {
    lastTime = ms;
    lastTimeJson = String(ms);
  }
  return lastTimeJson;
}

/**
 * Event and property names as JSON, remembered: an app uses a few dozen over and over. Bounded,
 * so names built from data (which they should not be) cannot grow it without end.
 */
const NAME_JSON = new Map<string, string>();
const NAME_JSON_LIMIT = 512;

function nameJson(name: string): string {
  let json = NAME_JSON.get(name);
  if (json === undefined) {
    json = jsonString(name);
    if (NAME_JSON.size < NAME_JSON_LIMIT) NAME_JSON.set(name, json);
  }
  return json;
}

/**
 * A string as JSON, as JSON.stringify writes it. Most strings here (ids, names, short values) need
 * no escaping, and a scan of their characters costs a fraction of a JSON.stringify call, which
 * sets up a serialiser each time: in a server under load it was the largest part of building an event.
 */
function jsonString(value: string): string {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    // Control characters, `"` and `\` are escaped; lone surrogates too (well-formed JSON.stringify).
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(value);
  }
  return '"' + value + '"';
}

/**
 * `JSON.stringify(properties)` for the usual shape, an object of strings, numbers, booleans and
 * nulls, written without the serialiser; undefined for anything else (nested values), which then
 * goes to JSON.stringify whole. Values were checked already (finite numbers, no functions).
 */
function flatJson(properties: Readonly<Record<string, unknown>>): string | undefined {
  let json = '';
  for (const key of Object.keys(properties)) {
    const value = properties[key];
    let written: string;
    switch (typeof value) {
      case 'string':
        written = jsonString(value);
        break;
      case 'number':
      case 'boolean':
        written = String(value);
        break;
      case 'undefined':
        continue; // left out, as JSON.stringify does
      default:
        if (value !== null) return undefined;
        written = 'null';
    }
    json += (json === '' ? '{' : ',') + nameJson(key) + ':' + written;
  }
  return json === '' ? '{}' : json + '}';
}

const LIBRARY_JSON = JSON.stringify(LIBRARY_NAME);
const VERSION_JSON = JSON.stringify(LIBRARY_VERSION);

/** Our properties a caller may set; their values, already serialised, land here. */
const OVERRIDABLE: ReadonlySet<string> = new Set(['time', '$insert_id', 'mp_lib', '$lib_version', 'ip']);
interface Overrides {
  found?: boolean;
  time?: number;
  $insert_id?: string;
  mp_lib?: string;
  $lib_version?: string;
  ip?: string;
}

/**
 * Validates properties, collecting overrides of our own fields; returns how many other
 * properties (with a value) there are.
 */
function checkProperties(event: string, from: Readonly<Record<string, unknown>>, overrides: Overrides, what: string): number {
  let others = 0;
  for (const key of Object.keys(from)) {
    const value = from[key];
    if (value === undefined) continue; // as JSON does: an absent optional property is not an error
    if (RESERVED.has(key)) {
      throw new InvalidEventError(
        'IDSTITCH_RESERVED_PROPERTY',
        `${what} "${key}" of "${event}" is set by idstitch (identity comes from the device cookie and the user id, distinct_id is left for Mixpanel to derive)`,
        event,
      );
    }
    if (key.length > API_LIMITS.stringId || key === '') {
      throw new InvalidEventError('IDSTITCH_INVALID_PROPERTIES', `${what} name of "${event}" must be 1–${API_LIMITS.stringId} characters, got ${key.length}`, event);
    }
    if (isPollutingKey(key, value)) fail(event, key, 'has the shape of a prototype-pollution payload; rename it');
    if (!OVERRIDABLE.has(key)) {
      checkValue(event, key, value, 0, undefined);
      others++;
      continue;
    }
    overrides.found = true;
    if (key === '$insert_id') {
      if (typeof value !== 'string' || !INSERT_ID.test(value)) {
        throw new InvalidEventError('IDSTITCH_INVALID_PROPERTIES', `$insert_id of "${event}" must be 1–36 characters of [A-Za-z0-9-], got ${describe(value)}`, event);
      }
      overrides.$insert_id = value;
    } else if (key === 'time') {
      overrides.time = checkTime(event, value);
    } else {
      checkValue(event, key, value, 0, undefined);
      overrides[key as 'mp_lib' | '$lib_version' | 'ip'] = JSON.stringify(value);
    }
  }
  return others;
}

function checkTime(event: string, value: unknown): number {
  const ms = value instanceof Date ? value.getTime() : value;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) {
    throw new InvalidEventError('IDSTITCH_INVALID_PROPERTIES', `time of "${event}" must be a Date or epoch milliseconds, got ${describe(value)}`, event);
  }
  return Math.trunc(ms);
}

/**
 * Accepts what survives JSON intact and within Mixpanel's limits: strings, finite numbers,
 * booleans, null, Dates, arrays (< 255 items) and plain objects (< 255 keys, nested ≤ 3 deep).
 * Everything JSON would silently mangle (functions, symbols, NaN, Maps, class instances) or
 * throw on (BigInt, cycles) is refused here, before it can reach a batch.
 */
function checkValue(event: string, path: string, value: unknown, depth: number, parents: unknown[] | undefined): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (Number.isFinite(value)) return value;
      return fail(event, path, `is ${value}, which JSON cannot carry`);
    case 'undefined':
      return value;
    case 'object':
      break;
    default:
      return fail(event, path, `is a ${typeof value}, which JSON cannot carry`);
  }
  if (value === null) return value;
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) return fail(event, path, 'is an invalid Date');
    return value;
  }
  if (parents?.includes(value)) return fail(event, path, 'is a circular reference');
  if (depth >= API_LIMITS.nestingDepth) return fail(event, path, `nests deeper than ${API_LIMITS.nestingDepth} levels, Mixpanel's limit`);
  const chain = parents ? [...parents, value] : [value];
  if (Array.isArray(value)) {
    if (value.length >= API_LIMITS.arrayItems) return fail(event, path, `has ${value.length} items; Mixpanel accepts fewer than ${API_LIMITS.arrayItems}`);
    for (let i = 0; i < value.length; i++) {
      if (value[i] === undefined) return fail(event, `${path}[${i}]`, 'is undefined (JSON would turn it into null)');
      checkValue(event, `${path}[${i}]`, value[i], depth + 1, chain);
    }
    return value;
  }
  if (!isPlainObject(value)) return fail(event, path, `is ${describe(value)}; send plain objects, arrays, strings, numbers, booleans, null or Dates`);
  const keys = Object.keys(value);
  if (keys.length >= API_LIMITS.nestedKeys) return fail(event, path, `has ${keys.length} keys; Mixpanel accepts fewer than ${API_LIMITS.nestedKeys}`);
  for (const key of keys) {
    const item = (value as Record<string, unknown>)[key];
    if (isPollutingKey(key, item)) fail(event, `${path}.${key}`, 'has the shape of a prototype-pollution payload; rename it');
    checkValue(event, `${path}.${key}`, item, depth + 1, chain);
  }
  return value;
}

/**
 * Validates one property value the way event properties are validated (JSON-safe, within
 * Mixpanel's nesting and size limits, no pollution payloads); profile updates use it. Throws
 * `InvalidEventError` naming `label` and the property.
 */
export function checkPropertyValue(label: string, key: string, value: unknown): void {
  if (key === '' || key.length > API_LIMITS.stringId) fail(label, JSON.stringify(key.slice(0, 40)), `name must be 1–${API_LIMITS.stringId} characters`);
  if (isPollutingKey(key, value)) fail(label, key, 'has the shape of a prototype-pollution payload; rename it');
  checkValue(label, key, value, 0, undefined);
}

function fail(event: string, path: string, why: string): never {
  throw new InvalidEventError('IDSTITCH_INVALID_PROPERTIES', `property ${path} of "${event}" ${why}`, event);
}

// The checks every property goes through before an event or a profile update is queued: what JSON
// carries intact, within Mixpanel's limits, and nothing that sets identity or pollutes prototypes.
import { InvalidEventError } from './errors.js';
import { API_LIMITS, describe, isPlainObject } from './options.js';

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
const INSERT_ID = /^[A-Za-z0-9-]{1,36}$/;

/** Our properties a caller may set; their values, already serialised, land here. */
export const OVERRIDABLE: ReadonlySet<string> = new Set(['time', '$insert_id', 'mp_lib', '$lib_version', 'ip']);
export interface Overrides {
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
export function checkProperties(event: string, from: Readonly<Record<string, unknown>>, overrides: Overrides, what: string): number {
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
      throw new InvalidEventError(
        'IDSTITCH_INVALID_PROPERTIES',
        `${what} name of "${event}" must be 1–${API_LIMITS.stringId} characters, got ${key.length}`,
        event,
      );
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
        throw new InvalidEventError(
          'IDSTITCH_INVALID_PROPERTIES',
          `$insert_id of "${event}" must be 1–36 characters of [A-Za-z0-9-], got ${describe(value)}`,
          event,
        );
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
    throw new InvalidEventError(
      'IDSTITCH_INVALID_PROPERTIES',
      `time of "${event}" must be a Date or epoch milliseconds, got ${describe(value)}`,
      event,
    );
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
    if (value.length >= API_LIMITS.arrayItems)
      return fail(event, path, `has ${value.length} items; Mixpanel accepts fewer than ${API_LIMITS.arrayItems}`);
    for (let i = 0; i < value.length; i++) {
      if (value[i] === undefined) return fail(event, `${path}[${i}]`, 'is undefined (JSON would turn it into null)');
      checkValue(event, `${path}[${i}]`, value[i], depth + 1, chain);
    }
    return value;
  }
  if (!isPlainObject(value))
    return fail(event, path, `is ${describe(value)}; send plain objects, arrays, strings, numbers, booleans, null or Dates`);
  const keys = Object.keys(value);
  if (keys.length >= API_LIMITS.nestedKeys)
    return fail(event, path, `has ${keys.length} keys; Mixpanel accepts fewer than ${API_LIMITS.nestedKeys}`);
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
  if (key === '' || key.length > API_LIMITS.stringId)
    fail(label, JSON.stringify(key.slice(0, 40)), `name must be 1–${API_LIMITS.stringId} characters`);
  if (isPollutingKey(key, value)) fail(label, key, 'has the shape of a prototype-pollution payload; rename it');
  checkValue(label, key, value, 0, undefined);
}

function fail(event: string, path: string, why: string): never {
  throw new InvalidEventError('IDSTITCH_INVALID_PROPERTIES', `property ${path} of "${event}" ${why}`, event);
}

// Profile updates (Mixpanel's /engage), kept to identified users as the guide advises: an update
// made while the browser is anonymous is held in a small signed cookie and sent when the user
// signs in, so no `$device:` profile is ever created (its properties would never reach the user's).
// Holding needs `cookie.secret`: a cookie signed with anything public (the project token ships in
// browser code) would let anyone write arbitrary properties into their own profile.
import { InvalidEventError } from './errors.js';
import { checkPropertyValue } from './properties.js';
import { describe, isPlainObject } from './options.js';
import type { Signer } from './signing.js';

/** The profile operations, as `req.people.<name>(…)` offers them. */
export type ProfileOperation = 'set' | 'setOnce' | 'increment' | 'append' | 'union' | 'unset';

/** Their names on the wire (contract §1.4). */
const WIRE: Readonly<Record<ProfileOperation, string>> = {
  set: '$set',
  setOnce: '$set_once',
  increment: '$add',
  append: '$append',
  union: '$union',
  unset: '$unset',
};
const OPERATIONS = new Set<string>(Object.keys(WIRE));

/** Profile updates for the request's user. Synchronous; invalid input is reported, never thrown. */
export interface People {
  /** Sets properties, replacing earlier values. */
  set(properties: Record<string, unknown>): void;
  /** Sets properties only where the profile has none yet. */
  setOnce(properties: Record<string, unknown>): void;
  /** Adds to numeric properties (negative numbers subtract). */
  increment(properties: Record<string, number>): void;
  /** Appends one value to list properties. */
  append(properties: Record<string, unknown>): void;
  /** Adds values to list properties, skipping those already there. */
  union(properties: Record<string, readonly unknown[]>): void;
  /** Removes properties. */
  unset(names: readonly string[]): void;
}

/** One validated update, as queued for a user or held for an anonymous browser. */
export type ProfileUpdate = readonly [ProfileOperation, unknown];

/** Held updates are bounded: a cookie must stay well under browsers' 4 KB per cookie. */
export const MAX_HELD_UPDATES = 16;
export const MAX_HELD_COOKIE_BYTES = 2048;

/** Validates `value` for `operation`; throws `InvalidEventError` (`IDSTITCH_INVALID_PROFILE_UPDATE`). */
export function checkProfileUpdate(operation: ProfileOperation, value: unknown): ProfileUpdate {
  const label = `people.${operation}`;
  if (operation === 'unset') {
    if (
      !Array.isArray(value) ||
      value.length === 0 ||
      !value.every((name) => typeof name === 'string' && name !== '' && name.length <= 255)
    ) {
      throw invalid(`${label}() takes a non-empty array of property names, got ${describe(value)}`);
    }
    return [operation, [...(value as string[])]];
  }
  if (!isPlainObject(value) || Object.keys(value).length === 0)
    throw invalid(`${label}() takes a non-empty plain object, got ${describe(value)}`);
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (item === undefined) continue;
    if (operation === 'increment' && (typeof item !== 'number' || !Number.isFinite(item)))
      throw invalid(`${label}() needs finite numbers; "${key}" is ${describe(item)}`);
    if (operation === 'union' && !Array.isArray(item))
      throw invalid(`${label}() needs an array per property; "${key}" is ${describe(item)}`);
    try {
      checkPropertyValue(label, key, item);
    } catch (error) {
      throw invalid((error as Error).message);
    }
    copy[key] = item;
  }
  return [operation, copy];
}

/** The `/engage` update for a user: `$ip: "0"` so it never moves the profile to the server's location. */
export function profileUpdateJson(token: string | undefined, distinctId: string, [operation, value]: ProfileUpdate): string {
  return JSON.stringify({ $token: token ?? '', $distinct_id: distinctId, $ip: '0', [WIRE[operation]]: value });
}

/**
 * The held updates as a cookie value: base64url JSON of `{ d: deviceId, u: updates }`, signed. The
 * device id binds them to the anonymous browser identity they were made under: after a reset or a
 * user switch that id is gone, and so are they.
 */
export function encodeHeld(deviceId: string, updates: readonly ProfileUpdate[], signer: Signer): string {
  return signer.sign(Buffer.from(JSON.stringify({ d: deviceId, u: updates }), 'utf8').toString('base64url'));
}

/**
 * Held updates from a cookie value, or undefined when it is forged, edited, malformed or held for
 * another device id (each update re-checked).
 */
export function decodeHeld(value: string, signer: Signer, deviceId: string): ProfileUpdate[] | undefined {
  if (value.length > MAX_HELD_COOKIE_BYTES) return undefined;
  const payload = signer.unsign(value);
  if (payload === undefined) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { d?: unknown; u?: unknown } | null;
    if (parsed === null || typeof parsed !== 'object' || parsed.d !== deviceId) return undefined;
    const updates = parsed.u;
    if (!Array.isArray(updates) || updates.length > MAX_HELD_UPDATES) return undefined;
    return updates.map((entry: unknown) => {
      if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string' || !OPERATIONS.has(entry[0]))
        throw new Error('not an update');
      return checkProfileUpdate(entry[0] as ProfileOperation, entry[1]);
    });
  } catch {
    return undefined;
  }
}

function invalid(message: string): InvalidEventError {
  return new InvalidEventError('IDSTITCH_INVALID_PROFILE_UPDATE', message, undefined);
}

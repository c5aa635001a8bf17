// Device-id cookie reading and writing. Web APIs only (no `node:` import), so idstitch/next/proxy can
// use it on the Edge runtime.
import type { NormalizedCookie } from './cookie-config.js';

/** The only shape idstitch issues and trusts: a lower-case RFC 9562 version-4 UUID. */
export function isDeviceId(value: string): boolean {
  // By hand rather than a regular expression: it runs on every request, and entering the regexp
  // engine costs more than this loop.
  if (value.length !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const c = value.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 45 /* - */) return false;
    } else if (i === 14) {
      if (c !== 52 /* 4: the version */) return false;
    } else if (i === 19) {
      if (c !== 56 && c !== 57 && c !== 97 && c !== 98 /* 8 9 a b: the variant */) return false;
    } else if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false; // 0-9 a-f
  }
  return true;
}

/** A new device id. Web Crypto's `randomUUID` is as fast as `node:crypto`'s on Node and exists on the Edge runtime too. */
export function newDeviceId(): string {
  return globalThis.crypto.randomUUID();
}

/**
 * What the device cookie holds: the id, then, once a user signed in on this browser, `.` and a
 * keyed tag of that user (never the id itself), so a different user signing in without a logout is
 * noticed. With `cookie.secret`, `.` and the signature of all that follow.
 */
export interface DeviceCookieValue {
  readonly deviceId: string;
  /** The linked user's tag (`LINK_TAG_LENGTH` base64url characters), or undefined. */
  readonly link: string | undefined;
}

export const LINK_TAG_LENGTH = 11;
const LINK_TAG = /^[A-Za-z0-9_-]{11}$/;

/** Reads `<id>` or `<id>.<tag>` (after any signature is removed); undefined for anything else. */
export function parseDeviceValue(payload: string): DeviceCookieValue | undefined {
  if (payload.length === 36) return isDeviceId(payload) ? { deviceId: payload, link: undefined } : undefined;
  if (payload.length !== 37 + LINK_TAG_LENGTH || payload.charCodeAt(36) !== 46 /* . */) return undefined;
  const deviceId = payload.slice(0, 36);
  const link = payload.slice(37);
  return isDeviceId(deviceId) && LINK_TAG.test(link) ? { deviceId, link } : undefined;
}

export function encodeDeviceValue(value: DeviceCookieValue): string {
  return value.link === undefined ? value.deviceId : `${value.deviceId}.${value.link}`;
}

/** Removes and checks a signature: the payload, or undefined when it does not verify. */
export type Unsign = (signed: string) => string | undefined;

export interface CookieRead {
  /** A valid device id, or undefined. */
  deviceId: string | undefined;
  /** The linked user's tag the cookie carries, if any. */
  link: string | undefined;
  /** True when our cookie was present but no occurrence held a valid (and, when signed, verified) value. */
  invalid: boolean;
}

const ABSENT: CookieRead = Object.freeze({ deviceId: undefined, link: undefined, invalid: false });

/**
 * Finds the device id in a Cookie header without parsing the whole header.
 * A name can occur more than once (a `Path=/app` twin is sent first, RFC 6265 §5.4): the first
 * valid occurrence wins, so a stale twin cannot force a new id on every request. Values are never
 * decoded: a valid id has no characters that need it.
 */
export function readDeviceCookie(header: string | undefined, cookie: NormalizedCookie, unsign?: Unsign): CookieRead {
  if (!header) return ABSENT;
  const prefix = cookie.prefix;
  let invalid = false;
  for (let at = valueStart(header, prefix, 0); at !== -1; at = valueStart(header, prefix, at)) {
    const raw = valueAt(header, at);
    const payload = unsign === undefined ? raw : unsign(raw);
    const value = payload === undefined ? undefined : parseDeviceValue(payload);
    if (value !== undefined) return { deviceId: value.deviceId, link: value.link, invalid: false };
    invalid = true;
  }
  return invalid ? { deviceId: undefined, link: undefined, invalid } : ABSENT;
}

/** Every value the Cookie header holds under our name, in order (for callers that verify asynchronously). */
export function cookieValues(header: string, cookie: Pick<NormalizedCookie, 'prefix'>): string[] {
  const values: string[] = [];
  for (let at = valueStart(header, cookie.prefix, 0); at !== -1; at = valueStart(header, cookie.prefix, at))
    values.push(valueAt(header, at));
  return values;
}

/**
 * Where the next value under our name starts, searching from `from`; -1 when there is none. A
 * match must start the header or follow `;` (and optional spaces): `xidstitch_device=` is another cookie.
 */
function valueStart(header: string, prefix: string, from: number): number {
  for (;;) {
    const at = header.indexOf(prefix, from);
    if (at === -1) return -1;
    from = at + prefix.length;
    let before = at - 1;
    while (before >= 0 && (header.charCodeAt(before) === 32 || header.charCodeAt(before) === 9)) before--;
    if (before < 0 || header.charCodeAt(before) === 59 /* ; */) return from;
  }
}

function valueAt(header: string, at: number): string {
  const end = header.indexOf(';', at);
  return header.slice(at, end === -1 ? header.length : end).trim();
}

/** The Set-Cookie line for a cookie value (from `encodeDeviceValue`, signed when the cookie is). */
export function deviceCookie(cookie: NormalizedCookie, value: string, secure: boolean): string {
  return cookie.prefix + value + (secure ? cookie.attributes.secure : cookie.attributes.insecure);
}

// Device-id cookie reading and writing. Web APIs only (no `node:` import), so idstitch/next/proxy can
// use it on the Edge runtime.
import type { NormalizedCookie } from './cookie-config.js';

/** The only shape idstitch issues and trusts: a lower-case RFC 9562 version-4 UUID. */
const DEVICE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export function isDeviceId(value: string): boolean {
  return value.length === 36 && DEVICE_ID.test(value);
}

/** A new device id. Web Crypto's `randomUUID` is as fast as `node:crypto`'s on Node and exists on the Edge runtime too. */
export function newDeviceId(): string {
  return globalThis.crypto.randomUUID();
}

export interface CookieRead {
  /** A valid device id, or undefined. */
  deviceId: string | undefined;
  /** True when our cookie was present but no occurrence held a valid id. */
  invalid: boolean;
}

/**
 * Finds the device id in a Cookie header without parsing the whole header.
 * A name can occur more than once (a `Path=/app` twin is sent first, RFC 6265 §5.4): the first
 * valid occurrence wins, so a stale twin cannot force a new id on every request. Values are never
 * decoded: a valid id has no characters that need it.
 */
export function readDeviceCookie(header: string | undefined, cookie: NormalizedCookie): CookieRead {
  if (!header) return { deviceId: undefined, invalid: false };
  const prefix = cookie.prefix;
  let invalid = false;
  let from = 0;
  for (;;) {
    const at = header.indexOf(prefix, from);
    if (at === -1) break;
    from = at + prefix.length;
    // A match must start the header or follow ';' (and optional spaces): `xidstitch_device=` is another cookie.
    let before = at - 1;
    while (before >= 0 && (header.charCodeAt(before) === 32 || header.charCodeAt(before) === 9)) before--;
    if (before >= 0 && header.charCodeAt(before) !== 59 /* ; */) continue;
    let end = header.indexOf(';', from);
    if (end === -1) end = header.length;
    const value = header.slice(from, end).trim();
    if (isDeviceId(value)) return { deviceId: value, invalid: false };
    invalid = true;
  }
  return { deviceId: undefined, invalid };
}

/** The Set-Cookie line for a device id. `deviceId` must be one `isDeviceId` accepts. */
export function deviceCookie(cookie: NormalizedCookie, deviceId: string, secure: boolean): string {
  return cookie.prefix + deviceId + (secure ? cookie.attributes.secure : cookie.attributes.insecure);
}

// Hybrid sites: when the page also runs Mixpanel's browser SDK (npm `mixpanel-browser`),
// the server reads the device id the SDK keeps in its cookie, so events from both sides share one
// `$device_id`. The cookie belongs to the SDK and to the browser: it is read, never written, and
// nothing in it is trusted beyond one id of the exact shapes the SDK generates. No Node.js API here.
import { ConfigError } from './errors.js';
import { describe, isPlainObject, rejectUnknown } from './option-checks.js';
import { cookieValues, isDeviceId } from './identity.js';

/**
 * Where the request's device id comes from:
 * - `'idstitch'` (default): idstitch's own HttpOnly cookie;
 * - `'mixpanel-browser'`: the browser SDK's cookie `mp_<token>_mixpanel` when it holds a valid
 *   device id, else idstitch's own cookie. The SDK must persist to a cookie (`persistence: 'cookie'`,
 *   its default), and be initialised with the same project token;
 * - `{ mixpanelBrowser: { persistenceName } }`: the same, for an SDK initialised with
 *   `persistence_name` (its cookie is then `mp_<persistenceName>`).
 */
export type DeviceIdSource = 'idstitch' | 'mixpanel-browser' | { mixpanelBrowser: { persistenceName?: string } };

/** The SDK's cookie, as the per-request reader needs it. */
export interface BrowserSdkCookie {
  readonly name: string;
  /** `name=`, what a Cookie header is searched for. */
  readonly prefix: string;
}

/**
 * Browsers ignore a cookie whose name and value exceed 4096 bytes (RFC 6265bis, Set-Cookie
 * parsing; document.cookie too), and the SDK's value is percent-encoded ASCII, so characters are
 * bytes. A longer value was not written by the SDK: it is not decoded or parsed at all.
 */
export const MAX_BROWSER_SDK_COOKIE_CHARS = 4096;

/** RFC 6265 §4.1.1 `token`: what a cookie name may contain. */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,200}$/;

/**
 * Device ids of mixpanel-browser before 2.62.0 (March 2025), still in cookies it renews on every
 * save: five lower-case hex parts `T-R-UA-SCREEN-T`, where T is a ms timestamp and a tick count
 * (11 or more digits since 2004), R a `Math.random()` fraction, UA a signed 32-bit hash (hence an
 * optional `-` sign) and SCREEN a pixel count. Bounded per part, so a user id never fits.
 */
const LEGACY_SDK_DEVICE_ID = /^[0-9a-f]{11,24}-[0-9a-f]{1,32}--?[0-9a-f]{1,8}-[0-9a-f]{1,12}-[0-9a-f]{11,24}$/;

/**
 * Whether `value` is a device id mixpanel-browser generates: a lower-case UUID v4 (2.62.0 and
 * later, `crypto.randomUUID()` or its v4 fallback), or the older five-part hex id. Anything else
 * (a user id an old `identify()` left as `$device_id`, placeholders, markup) is refused.
 */
export function isBrowserSdkDeviceId(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  return isDeviceId(value) || LEGACY_SDK_DEVICE_ID.test(value);
}

/**
 * Normalises the `deviceIdFrom` option; undefined means idstitch's own cookie only. The SDK names
 * its cookie after the project token, so `'mixpanel-browser'` needs `token` (or `persistenceName`).
 */
export function normalizeDeviceIdSource(option: unknown, token: string | undefined): BrowserSdkCookie | undefined {
  if (option === undefined || option === 'idstitch') return undefined;
  let name: string;
  if (option === 'mixpanel-browser') {
    if (token === undefined) {
      throw new ConfigError(
        'deviceIdFrom',
        "'mixpanel-browser' reads the SDK's cookie mp_<token>_mixpanel: set `token`, or give `{ mixpanelBrowser: { persistenceName } }`",
      );
    }
    name = `mp_${token}_mixpanel`;
  } else if (isPlainObject(option) && Object.keys(option).length === 1 && isPlainObject(option.mixpanelBrowser)) {
    const sdk = option.mixpanelBrowser;
    rejectUnknown(sdk, ['persistenceName'], 'deviceIdFrom.mixpanelBrowser.');
    const persistenceName = sdk.persistenceName;
    if (persistenceName === undefined) {
      if (token === undefined)
        throw new ConfigError(
          'deviceIdFrom.mixpanelBrowser.persistenceName',
          'is needed when there is no `token` to name the cookie after',
        );
      name = `mp_${token}_mixpanel`;
    } else if (typeof persistenceName === 'string' && persistenceName !== '') {
      name = `mp_${persistenceName}`;
    } else {
      throw new ConfigError(
        'deviceIdFrom.mixpanelBrowser.persistenceName',
        `must be the SDK's non-empty persistence_name, got ${describe(persistenceName)}`,
      );
    }
  } else {
    throw new ConfigError(
      'deviceIdFrom',
      `must be 'idstitch', 'mixpanel-browser' or { mixpanelBrowser: { persistenceName } }, got ${describe(option)}`,
    );
  }
  if (!COOKIE_NAME.test(name)) {
    // Says where, never what: the name holds the token.
    throw new ConfigError(
      'deviceIdFrom',
      'would read a cookie whose name is not a valid cookie name (RFC 6265 token characters, at most 200): check `token` or `persistenceName`',
    );
  }
  return Object.freeze({ name, prefix: `${name}=` });
}

export interface BrowserSdkRead {
  /** The SDK's `$device_id`, when the cookie holds a valid one. */
  readonly deviceId: string | undefined;
  /** The cookie was there but unusable: too long, not URL-encoded JSON, or no valid `$device_id`. */
  readonly invalid: boolean;
}

const ABSENT: BrowserSdkRead = Object.freeze({ deviceId: undefined, invalid: false });
const INVALID: BrowserSdkRead = Object.freeze({ deviceId: undefined, invalid: true });

/**
 * Reads the SDK's `$device_id` from a Cookie header. Only the first occurrence of the name counts,
 * as in the SDK's own reader (browsers send same-path twins oldest first, RFC 6265 §5.4): the
 * server then sees the id the page sees. The value is URL-encoded JSON (the SDK writes
 * `encodeURIComponent(JSON.stringify(props))`); only an own `$device_id` is read from it.
 */
export function readBrowserSdkCookie(header: string | undefined, cookie: BrowserSdkCookie | undefined): BrowserSdkRead {
  if (cookie === undefined || !header) return ABSENT;
  const [raw] = cookieValues(header, cookie);
  if (raw === undefined) return ABSENT;
  if (raw.length > MAX_BROWSER_SDK_COOKIE_CHARS) return INVALID;
  let props: unknown;
  try {
    props = JSON.parse(decodeURIComponent(raw));
  } catch {
    return INVALID;
  }
  // JSON.parse makes `__proto__` an own data property, never a prototype: only own keys are read.
  if (!isPlainObject(props) || !Object.hasOwn(props, '$device_id')) return INVALID;
  const deviceId = props.$device_id;
  return isBrowserSdkDeviceId(deviceId) ? { deviceId, invalid: false } : INVALID;
}

// The device-id cookie's options, defaults and normalised form, in one module that uses no Node.js
// API: the tracker and idstitch/next/proxy (which may run on the Edge runtime) both build the cookie
// from it, so they agree on its name and attributes.
import { stringifySetCookie } from 'cookie';
import { ConfigError } from './errors.js';
import { describe, oneOf, optionalString, rejectUnknown } from './option-checks.js';

export interface CookieOptions {
  /** Cookie name. Default `idstitch_device`. A `__Host-` prefix requires HTTPS (checked here). */
  name?: string;
  /** Lifetime in **seconds** (the `Max-Age` unit). Default 34,560,000 (400 days, the browser cap). `null`: a session cookie. */
  maxAge?: number | null;
  /** `Domain` attribute, to share the id with subdomains. Default: none (host-only). */
  domain?: string;
  /** `Path` attribute. Default `/`. */
  path?: string;
  /** `'auto'` (default): Secure when the request is HTTPS as the framework's proxy trust says. */
  secure?: 'auto' | boolean;
  /** Default `'lax'`. `'none'` forces `Secure`. */
  sameSite?: 'lax' | 'strict' | 'none';
}

/** The cookie defaults (also `DEFAULTS.cookie`). */
export const COOKIE_DEFAULTS = {
  name: 'idstitch_device',
  maxAge: 34_560_000, // s: 400 days, the cap browsers apply (rfc6265bis)
  path: '/',
  secure: 'auto',
  sameSite: 'lax',
} as const;

export interface NormalizedCookie {
  readonly name: string;
  /** `name=` — what a Cookie header is searched for. */
  readonly prefix: string;
  /** Attributes after the value, precomputed for plain-HTTP and HTTPS responses. */
  readonly attributes: { readonly insecure: string; readonly secure: string };
  /** The same attributes as fields, for APIs that set a cookie from an object (Next's `cookies().set`). */
  readonly fields: {
    readonly path: string;
    readonly domain: string | undefined;
    /** s; undefined: a session cookie. */
    readonly maxAge: number | undefined;
    readonly sameSite: 'lax' | 'strict' | 'none';
    /** Whether `Secure` is sent on plain-HTTP and on HTTPS requests. */
    readonly secure: { readonly insecure: boolean; readonly secure: boolean };
  };
}

const COOKIE_OPTION_NAMES: ReadonlyArray<keyof CookieOptions> = ['name', 'maxAge', 'domain', 'path', 'secure', 'sameSite'];

/**
 * Validates and normalises the cookie options once, into a frozen object whose attribute strings
 * every response reuses. Throws `ConfigError` naming the option.
 */
export function normalizeCookie(cookie: CookieOptions | undefined): NormalizedCookie {
  if (cookie === undefined) cookie = {};
  if (cookie === null || typeof cookie !== 'object' || Array.isArray(cookie)) {
    throw new ConfigError('cookie', `must be an object, got ${describe(cookie)}`);
  }
  rejectUnknown(cookie, COOKIE_OPTION_NAMES, 'cookie.');
  const name = optionalString(cookie, 'name', 'cookie.') ?? COOKIE_DEFAULTS.name;
  const path = optionalString(cookie, 'path', 'cookie.') ?? COOKIE_DEFAULTS.path;
  const domain = optionalString(cookie, 'domain', 'cookie.');
  const sameSite = oneOf(cookie, 'sameSite', ['lax', 'strict', 'none'] as const, 'cookie.') ?? COOKIE_DEFAULTS.sameSite;
  const secure = cookie.secure ?? COOKIE_DEFAULTS.secure;
  if (secure !== 'auto' && typeof secure !== 'boolean') {
    throw new ConfigError('cookie.secure', `must be 'auto', true or false, got ${describe(secure)}`);
  }
  let maxAge: number | null = COOKIE_DEFAULTS.maxAge;
  if (cookie.maxAge === null) maxAge = null;
  else if (cookie.maxAge !== undefined) {
    if (!Number.isInteger(cookie.maxAge) || cookie.maxAge <= 0) {
      throw new ConfigError('cookie.maxAge', `must be a positive whole number of seconds or null, got ${describe(cookie.maxAge)}`);
    }
    if (cookie.maxAge > COOKIE_DEFAULTS.maxAge) {
      throw new ConfigError('cookie.maxAge', `is in seconds and browsers cap it at 400 days (34560000); got ${cookie.maxAge} (milliseconds?)`);
    }
    maxAge = cookie.maxAge;
  }
  if (sameSite === 'none' && secure === false) {
    throw new ConfigError('cookie.sameSite', "'none' requires Secure; browsers drop SameSite=None cookies without it");
  }
  if (name.startsWith('__Host-') && (secure === false || path !== '/' || domain !== undefined)) {
    throw new ConfigError('cookie.name', 'with the __Host- prefix needs secure not false, path "/" and no domain (rfc6265bis §4.1.3.2)');
  }
  if (name.startsWith('__Secure-') && secure === false) {
    throw new ConfigError('cookie.name', 'with the __Secure- prefix needs secure not false');
  }

  const attributes = (secureFlag: boolean): string => {
    try {
      // Serialised once with a placeholder value: validates name, path and domain, and gives the
      // attribute string every response reuses (only the value changes per request).
      const line = stringifySetCookie({
        name,
        value: 'x',
        path,
        httpOnly: true,
        sameSite,
        secure: secureFlag,
        ...(domain !== undefined ? { domain } : {}),
        ...(maxAge !== null ? { maxAge } : {}),
      });
      return line.slice(name.length + 2);
    } catch (error) {
      throw new ConfigError('cookie', `is not a valid cookie: ${(error as Error).message}`);
    }
  };
  // Secure-only cookies (secure: true, SameSite=None, __Host-/__Secure- names) carry Secure even on
  // plain-HTTP requests; 'auto' follows the request; false never sets it.
  const secureOnly = secure === true || sameSite === 'none' || name.startsWith('__Host-') || name.startsWith('__Secure-');
  return Object.freeze({
    name,
    prefix: name + '=',
    attributes: Object.freeze({
      insecure: attributes(secureOnly),
      secure: attributes(secure !== false),
    }),
    fields: Object.freeze({
      path,
      domain,
      maxAge: maxAge ?? undefined,
      sameSite,
      secure: Object.freeze({ insecure: secureOnly, secure: secure !== false }),
    }),
  });
}

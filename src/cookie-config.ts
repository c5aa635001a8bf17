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
  /**
   * Signs the cookie (HMAC-SHA256) so a forged or edited value counts as absent. One secret, or
   * several to rotate: the first signs, all verify. At least 16 characters each. Default: unsigned.
   * Every instance of the app (and the Next proxy) must be given the same secrets.
   */
  secret?: string | readonly string[];
}

/** Shorter secrets are guessable offline from one signed cookie. */
export const MIN_SECRET_LENGTH = 16;

/**
 * Checks `cookie.secret` (one string, or a non-empty list: the first signs, all verify) and returns
 * the list. The message never contains a secret: only where it is and what it needs.
 */
export function checkSecrets(secret: unknown, option = 'cookie.secret'): readonly string[] {
  const secrets: unknown = typeof secret === 'string' ? [secret] : secret;
  if (!Array.isArray(secrets) || secrets.length === 0) {
    throw new ConfigError(option, 'must be a string or a non-empty array of strings (the first signs, all verify)');
  }
  for (const [i, candidate] of secrets.entries()) {
    if (typeof candidate !== 'string' || candidate.length < MIN_SECRET_LENGTH) {
      throw new ConfigError(
        option,
        `${secrets.length > 1 ? `[${i}] ` : ''}must be a string of at least ${MIN_SECRET_LENGTH} characters (use a random value from a secret store)`,
      );
    }
  }
  return Object.freeze([...(secrets as string[])]);
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
  /** The same attributes with `Max-Age=0`: what deletes a cookie of this name, path and domain. */
  readonly expired: { readonly insecure: string; readonly secure: string };
  /** `cookie.secret` as a list (the first signs), or undefined when the cookie is unsigned. */
  readonly secrets: readonly string[] | undefined;
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

const COOKIE_OPTION_NAMES: ReadonlyArray<keyof CookieOptions> = ['name', 'maxAge', 'domain', 'path', 'secure', 'sameSite', 'secret'];

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
      throw new ConfigError(
        'cookie.maxAge',
        `is in seconds and browsers cap it at 400 days (34560000); got ${cookie.maxAge} (milliseconds?)`,
      );
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

  const attributes = (secureFlag: boolean, lifetime: number | null = maxAge): string => {
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
        ...(lifetime !== null ? { maxAge: lifetime } : {}),
      });
      return line.slice(name.length + 2);
    } catch (error) {
      throw new ConfigError('cookie', `is not a valid cookie: ${(error as Error).message}`);
    }
  };
  // Secure-only cookies (secure: true, SameSite=None, __Host-/__Secure- names) carry Secure even on
  // plain-HTTP requests; 'auto' follows the request; false never sets it.
  const secureOnly = secure === true || sameSite === 'none' || name.startsWith('__Host-') || name.startsWith('__Secure-');
  const secrets = cookie.secret === undefined ? undefined : checkSecrets(cookie.secret);
  return Object.freeze({
    name,
    prefix: name + '=',
    secrets,
    attributes: Object.freeze({
      insecure: attributes(secureOnly),
      secure: attributes(secure !== false),
    }),
    expired: Object.freeze({
      insecure: attributes(secureOnly, 0),
      secure: attributes(secure !== false, 0),
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

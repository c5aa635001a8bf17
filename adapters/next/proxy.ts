// idstitch/next/proxy: issues the device id in Next.js's proxy (`proxy.ts`, or the older
// `middleware.ts` on the Edge runtime), before anything renders, so the same request already sees
// it: in `cookies()`, in Route Handlers' `request.cookies` and in idstitch's own helpers.
//
// Edge-safe on purpose: Web APIs only (Web Crypto for the id), no tracker and no undici, and no
// runtime import of `next` — a proxy tells Next what to do through response headers, which this
// module writes itself (see `continueWithCookie`).
import type { NextFetchEvent, NextRequest } from 'next/server.js';
import { privateCacheControl } from '../../src/cache-control.js';
import { normalizeCookie, type CookieOptions, type NormalizedCookie } from '../../src/cookie-config.js';
import { ConfigError } from '../../src/errors.js';
import { cookieValues, deviceCookie, newDeviceId, parseDeviceValue, readDeviceCookie } from '../../src/identity.js';
import { createWebSigner, type WebSigner } from '../../src/signing-web.js';
import { describe, rejectUnknown } from '../../src/option-checks.js';
import { editHeaders } from './headers.js';

export type { CookieOptions };

export interface DeviceIdProxyOptions {
  /**
   * The device-id cookie. Give the same `cookie` options as the tracker (`nextTracking`): both
   * default to `idstitch_device`, HttpOnly, SameSite=Lax, Secure on HTTPS, 400 days.
   */
  cookie?: CookieOptions;
  /**
   * Browsers that opted out get no device id from the proxy, as the tracker gives them none:
   * `gpc` (default `true`) for `Sec-GPC: 1`, `dnt` (default `false`) for `DNT: 1`. Match the
   * tracker's `privacy` options. (Your `consent` hook runs in the tracker, not here.)
   */
  privacy?: { gpc?: boolean; dnt?: boolean };
}

/** What a Next.js proxy may return: a response, or nothing to continue. */
export type ProxyResult = Response | null | undefined | void;

/** Your own proxy (auth, i18n, rewrites…), which `withDeviceId` wraps. */
export type ProxyHandler = (request: NextRequest, event: NextFetchEvent) => ProxyResult | Promise<ProxyResult>;

/** The proxy `withDeviceId` returns: export it as `proxy` (or `middleware`). */
export type DeviceIdProxy = (request: NextRequest, event: NextFetchEvent) => Promise<Response | null | undefined>;

const OPTION_NAMES: ReadonlyArray<keyof DeviceIdProxyOptions> = ['cookie', 'privacy'];

/**
 * A Next.js proxy that gives every browser without a valid device id a new one, visible to the
 * rest of the same request (`cookies()`, `request.cookies`, idstitch's `getTracking()`), and sets
 * the cookie on the response. A browser that has one passes through untouched.
 *
 * ```ts
 * // proxy.ts (Next 16; Node.js runtime) — or middleware.ts (Edge runtime), exported as `middleware`
 * import { withDeviceId } from 'idstitch/next/proxy';
 * export const proxy = withDeviceId();
 * export const config = { matcher: ['/((?!_next/static|_next/image|favicon.ico).*)'] };
 * ```
 *
 * Wrap your own proxy to keep it, `withDeviceId(async (request) => …)`, or another library's
 * `(request, event)` proxy, e.g. `withDeviceId(clerkMiddleware())`. Its response keeps everything
 * it set (headers, cookies, request-header overrides, redirects); the device cookie is added, on a
 * copy when its headers are immutable (`Response.redirect`).
 *
 * Options are validated here, once: a bad one throws `ConfigError`.
 */
export function withDeviceId(options?: DeviceIdProxyOptions): DeviceIdProxy;
export function withDeviceId(handler: ProxyHandler, options?: DeviceIdProxyOptions): DeviceIdProxy;
export function withDeviceId(handlerOrOptions?: ProxyHandler | DeviceIdProxyOptions, maybeOptions?: DeviceIdProxyOptions): DeviceIdProxy {
  const handler = typeof handlerOrOptions === 'function' ? handlerOrOptions : undefined;
  const options = typeof handlerOrOptions === 'function' ? maybeOptions : handlerOrOptions;
  if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))) {
    throw new ConfigError('options', `must be an object, got ${describe(options)}`);
  }
  if (handlerOrOptions !== undefined && typeof handlerOrOptions !== 'function' && typeof handlerOrOptions !== 'object') {
    throw new ConfigError('withDeviceId', `takes your proxy function and/or options, got ${describe(handlerOrOptions)}`);
  }
  if (options) rejectUnknown(options, OPTION_NAMES, '');
  const cookie = normalizeCookie(options?.cookie);
  const signer = cookie.secrets ? createWebSigner(cookie.secrets) : undefined;
  const privacy = options?.privacy ?? {};
  if (privacy === null || typeof privacy !== 'object' || Array.isArray(privacy))
    throw new ConfigError('privacy', `must be { gpc?, dnt? }, got ${describe(privacy)}`);
  rejectUnknown(privacy, ['gpc', 'dnt'], 'privacy.');
  for (const key of ['gpc', 'dnt'] as const) {
    if (privacy[key] !== undefined && typeof privacy[key] !== 'boolean')
      throw new ConfigError(`privacy.${key}`, `must be true or false, got ${describe(privacy[key])}`);
  }
  const honourGpc = privacy.gpc ?? true;
  const honourDnt = privacy.dnt ?? false;

  return async function idstitchDeviceId(request: NextRequest, event: NextFetchEvent): Promise<Response | null | undefined> {
    const header = request.headers.get('cookie') ?? undefined;
    const result = (handler ? await handler(request, event) : undefined) ?? undefined; // null and void mean "continue" too
    if (await hasDeviceId(header, cookie, signer)) return result;
    // Opted out: no id is issued, as the tracker issues none (and sends nothing) for such a browser.
    if ((honourGpc && request.headers.get('sec-gpc')?.trim() === '1') || (honourDnt && request.headers.get('dnt')?.trim() === '1'))
      return result;
    const deviceId = newDeviceId();
    return issue(request, result, cookie, signer ? await signer.sign(deviceId) : deviceId);
  };
}

/** Whether the request carries a valid (and, with `cookie.secret`, verified) device id, as the tracker will read it. */
async function hasDeviceId(header: string | undefined, cookie: NormalizedCookie, signer: WebSigner | undefined): Promise<boolean> {
  if (signer === undefined) return readDeviceCookie(header, cookie).deviceId !== undefined;
  for (const value of header ? cookieValues(header, cookie) : []) {
    const payload = await signer.unsign(value);
    if (payload !== undefined && parseDeviceValue(payload) !== undefined) return true;
  }
  return false;
}

/** Headers of Next's proxy protocol, as `NextResponse.next()` and `NextResponse.cookies.set` write them. */
const NEXT = 'x-middleware-next';
const REWRITE = 'x-middleware-rewrite';
const OVERRIDE = 'x-middleware-override-headers';
const REQUEST_HEADER = 'x-middleware-request-';
const SET_COOKIE_FOR_REQUEST = 'x-middleware-set-cookie';

/**
 * Adds a new device id to the proxy's answer (`value`: the cookie value, signed when the cookie
 * is). When the request goes on to a page or handler (no response, `NextResponse.next()` or a
 * rewrite) the id is also put into that request's cookies; a final answer (a redirect, a 401)
 * only gets the cookie.
 */
function issue(request: Request, result: Response | undefined, cookie: NormalizedCookie, value: string): Response {
  const line = deviceCookie(cookie, value, new URL(request.url).protocol === 'https:');
  if (result === undefined) {
    return continueWithCookie(new Response(null, { headers: { [NEXT]: '1' } }), request, cookie, value, line);
  }
  if (result.headers.has(NEXT) || result.headers.has(REWRITE)) return continueWithCookie(result, request, cookie, value, line);
  return editHeaders(result, (headers) => {
    headers.append('set-cookie', line);
    makePrivate(headers);
  });
}

/**
 * A response that hands out a new device id must not be stored by a shared cache (one id, every
 * visitor). A header of the proxy's `NextResponse.next()` wins over the page's own, so this also
 * covers a prerendered page that Next would send with `s-maxage`.
 */
function makePrivate(headers: Headers): void {
  headers.set('cache-control', privateCacheControl(headers.get('cache-control')));
}

/**
 * What `NextResponse.next({ request: { headers } })` followed by `response.cookies.set(…)` produce,
 * merged into a response that may already carry its own overrides (another library's proxy):
 * - `x-middleware-override-headers` lists every request header the page or handler will see, each
 *   given as `x-middleware-request-<name>`; Next drops request headers the list leaves out, so a
 *   first override lists them all. Ours rewrites `cookie`, which is what makes `request.cookies` in
 *   Route Handlers see the new id (vercel/next.js#57655: a Set-Cookie alone does not).
 * - `x-middleware-set-cookie` is how Next's `cookies()` learns of cookies the proxy set
 *   (vercel/next.js#65820); Next removes it before the response leaves.
 * - `set-cookie` is for the browser.
 */
function continueWithCookie(response: Response, request: Request, cookie: NormalizedCookie, value: string, line: string): Response {
  return editHeaders(response, (headers) => {
    const listed = headers.get(OVERRIDE);
    let names: string[];
    let cookieHeader: string | null;
    if (listed === null) {
      names = [];
      for (const [name, headerValue] of request.headers) {
        headers.set(REQUEST_HEADER + name, headerValue);
        names.push(name);
      }
      cookieHeader = request.headers.get('cookie');
    } else {
      names = listed
        .split(',')
        .map((name) => name.trim())
        .filter((name) => name !== '');
      cookieHeader = names.includes('cookie') ? headers.get(REQUEST_HEADER + 'cookie') : null;
    }
    if (!names.includes('cookie')) names.push('cookie');
    headers.set(REQUEST_HEADER + 'cookie', withDeviceCookie(cookieHeader, cookie, value));
    headers.set(OVERRIDE, names.join(','));
    const forRequest = headers.get(SET_COOKIE_FOR_REQUEST);
    headers.set(SET_COOKIE_FOR_REQUEST, forRequest ? `${forRequest},${line}` : line);
    headers.append('set-cookie', line);
    makePrivate(headers);
  });
}

/**
 * A Cookie header with the new cookie value in place of any value the browser sent under that name
 * (invalid ones included), other cookies kept in order.
 */
function withDeviceCookie(header: string | null | undefined, cookie: NormalizedCookie, value: string): string {
  const kept = (header ?? '')
    .split(';')
    .map((pair) => pair.trim())
    .filter((pair) => pair !== '' && !pair.startsWith(cookie.prefix));
  kept.push(cookie.prefix + value);
  return kept.join('; ');
}

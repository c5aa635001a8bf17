// Request context as event properties: the client's ip, the URL, the referrer, UTM parameters and
// what the User-Agent says. Pure: a request goes in (through `RequestInfo`), properties come out.
// Names and values follow what mixpanel-browser reports, so server events and client events about
// the same visit agree in Mixpanel's reports.
import { isIP } from 'node:net';
import { ConfigError } from './errors.js';
import { describe, rejectUnknown } from './option-checks.js';
import { normalizeRedaction, type UrlRedactor } from './url-redaction.js';
import { parseUserAgent } from './user-agent.js';

export { parseUserAgent, type UserAgentInfo } from './user-agent.js';

/** Which request properties to add; each is off unless named `true`. */
export interface RequestPropertiesOptions {
  /** `ip`: the client address, as the framework's proxy trust decides; Mixpanel geolocates it, then discards it. */
  ip?: boolean;
  /** `$current_url`: the URL of the request that tracked (an API route's own URL, not the page's). */
  url?: boolean;
  /** `$referrer` and `$referring_domain`, from the `Referer` header. */
  referrer?: boolean;
  /** `utm_source`, `utm_medium`, `utm_campaign`, … from the request URL's query. */
  utm?: boolean;
  /** `$browser`, `$browser_version`, `$os`, `$device`, parsed from the `User-Agent` header. */
  userAgent?: boolean;
  /**
   * Query values redacted from `$current_url` and `$referrer`. By default, every parameter whose
   * name has a word such as token, code, key, signature, password, secret, auth, session or email
   * (`reset_token`, `X-Amz-Signature`, `magicLinkToken`) becomes `redacted`; `utm_*` and ad click
   * ids are kept. A list adds names of your own; `false` sends URLs as they came.
   */
  redact?: readonly string[] | false;
}

/** `true` for all of them, `false` (the default) for none, or an object naming the ones wanted. */
export type RequestPropertiesOption = boolean | RequestPropertiesOptions;

export interface RequestPropertySettings {
  readonly ip: boolean;
  readonly url: boolean;
  readonly referrer: boolean;
  readonly utm: boolean;
  readonly userAgent: boolean;
  /** Writes a URL with its secret query values redacted; undefined with `redact: false`. */
  readonly redact: UrlRedactor | undefined;
}

const NAMES = ['ip', 'url', 'referrer', 'utm', 'userAgent'] as const;

/**
 * Normalises `requestProperties` once. Undefined when every property is off, so the per-event
 * path tests one field and does nothing else.
 */
export function normalizeRequestProperties(value: unknown): RequestPropertySettings | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true)
    return Object.freeze({ ip: true, url: true, referrer: true, utm: true, userAgent: true, redact: normalizeRedaction(undefined) });
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(
      'requestProperties',
      `must be true, false or an object such as { ip: true, userAgent: true }, got ${describe(value)}`,
    );
  }
  rejectUnknown(value, [...NAMES, 'redact'], 'requestProperties.');
  const options = value as Record<string, unknown>;
  for (const name of NAMES) {
    if (options[name] !== undefined && typeof options[name] !== 'boolean') {
      throw new ConfigError(`requestProperties.${name}`, `must be true or false, got ${describe(options[name])}`);
    }
  }
  const settings = {
    ip: options.ip === true,
    url: options.url === true,
    referrer: options.referrer === true,
    utm: options.utm === true,
    userAgent: options.userAgent === true,
    redact: normalizeRedaction(options.redact),
  };
  return NAMES.some((name) => settings[name]) ? Object.freeze(settings) : undefined;
}

/** What the request properties are made from; every `RequestContext` has these. */
export interface RequestInfo {
  /** The absolute URL the client asked for, or undefined where the framework does not know it. */
  requestUrl(): string | undefined;
  /** A request header (lower-case name), or undefined. */
  header(name: string): string | undefined;
  /** The client's address as the framework's proxy trust decides, or undefined. */
  clientIp(): string | undefined;
}

/**
 * mixpanel-browser truncates every string to 255 characters before sending; so do we, which
 * also bounds what a long URL or a padded header can add to an event.
 */
const MAX_STRING = 255;

/** mixpanel-browser's campaign keywords: the ones it reads from the page URL. */
const UTM_KEYS = [
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_content',
  'utm_term',
  'utm_id',
  'utm_source_platform',
  'utm_campaign_id',
  'utm_creative_format',
  'utm_marketing_tactic',
] as const;

/**
 * The request's properties under `settings`, or undefined when there are none. Only what the
 * request really says is added: a missing, malformed or non-http(s) URL or referrer adds nothing,
 * an unparsable ip leaves the event's `ip` at `"0"`.
 */
export function requestProperties(settings: RequestPropertySettings, request: RequestInfo): Record<string, unknown> | undefined {
  const properties: Record<string, unknown> = {};
  let any = false;
  const add = (name: string, value: string | number | undefined): void => {
    if (value === undefined || value === '') return;
    properties[name] = typeof value === 'string' ? value.slice(0, MAX_STRING) : value;
    any = true;
  };

  if (settings.ip) add('ip', normalizeIp(request.clientIp()));
  if (settings.url || settings.utm) {
    const url = httpUrl(request.requestUrl());
    if (url !== undefined) {
      if (settings.url) add('$current_url', settings.redact ? settings.redact(url) : url.href);
      if (settings.utm) {
        // First occurrence wins and empty values are skipped, as mixpanel-browser reads them.
        for (const key of UTM_KEYS) add(key, url.searchParams.get(key) ?? undefined);
      }
    }
  }
  if (settings.referrer) {
    const referrer = httpUrl(request.header('referer'));
    if (referrer !== undefined) {
      add('$referrer', settings.redact ? settings.redact(referrer) : referrer.href);
      add('$referring_domain', referrer.host);
    }
  }
  if (settings.userAgent) {
    const agent = request.header('user-agent');
    if (agent) {
      const parsed = parseUserAgent(agent);
      add('$browser', parsed.browser);
      add('$browser_version', parsed.browserVersion);
      add('$os', parsed.os);
      add('$device', parsed.device);
    }
  }
  return any ? properties : undefined;
}

function httpUrl(value: string | undefined): URL | undefined {
  if (!value) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.host !== '' ? url : undefined;
}

/**
 * A client address fit to send as `ip`, or undefined. IPv4-mapped IPv6 (`::ffff:203.0.113.5`, what
 * Node reports on dual-stack sockets) becomes plain IPv4; a port some proxies add
 * (`203.0.113.5:4711`, `[2001:db8::1]:4711`) is removed; anything else that is not an address is
 * refused, so a forged header can never put arbitrary text in the event.
 */
export function normalizeIp(value: string | undefined): string | undefined {
  if (!value) return undefined;
  let ip = value.trim();
  if (ip.startsWith('[')) {
    const end = ip.indexOf(']');
    if (end === -1) return undefined;
    ip = ip.slice(1, end);
  } else {
    const colon = ip.indexOf(':');
    if (colon !== -1 && colon === ip.lastIndexOf(':') && ip.includes('.')) ip = ip.slice(0, colon);
  }
  if (ip.length > 7 && ip.slice(0, 7).toLowerCase() === '::ffff:' && isIP(ip.slice(7)) === 4) ip = ip.slice(7);
  return isIP(ip) === 0 ? undefined : ip;
}

/**
 * The client address from `X-Forwarded-For` behind `trustedProxies` proxies that each append the
 * address they saw: the entry that many places from the right. Entries further left were written
 * by whoever connected first, the client included, so they are never trusted. A chain shorter than
 * the proxies said to be there did not come through them all: undefined.
 */
export function clientIpFromForwardedFor(header: string | null | undefined, trustedProxies: number): string | undefined {
  if (!header || trustedProxies < 1) return undefined;
  const entries = header.split(',');
  if (entries.length < trustedProxies) return undefined;
  return normalizeIp(entries[entries.length - trustedProxies]);
}

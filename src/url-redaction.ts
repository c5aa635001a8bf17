// Secrets travel in query strings: magic-link and password-reset tokens, OAuth codes, signed-URL
// signatures, e-mail addresses. `$current_url` and `$referrer` are sent to a third party and kept
// for years, so their values are redacted by default; campaign parameters and click ids stay,
// since they are what these properties are for.
import { ConfigError } from './errors.js';
import { describe } from './option-checks.js';

/** What a redacted value becomes. */
export const REDACTED = 'redacted';

/**
 * A query parameter is secret when any word of its name is one of these: names are split at
 * `_`, `-`, `.` and camelCase, so `reset_token`, `X-Amz-Signature` and `magicLinkToken` match while
 * `author` or `passenger` do not.
 */
const SECRET_WORDS: ReadonlySet<string> = new Set([
  'token',
  'code',
  'key',
  'apikey',
  'sig',
  'signature',
  'hmac',
  'hash',
  'password',
  'passwd',
  'pass',
  'pwd',
  'passcode',
  'pin',
  'secret',
  'auth',
  'authorization',
  'credential',
  'credentials',
  'session',
  'sessionid',
  'sid',
  'jwt',
  'otp',
  'nonce',
  'ticket',
  'email',
  'mail',
  'phone',
  'ssn',
]);

/** Click ids of ad platforms: not secrets, and the reason to record URLs at all. */
const KEPT: ReadonlySet<string> = new Set([
  'gclid',
  'gbraid',
  'wbraid',
  'dclid',
  'fbclid',
  'msclkid',
  'ttclid',
  'twclid',
  'li_fat_id',
  'igshid',
  'mc_cid',
  'mc_eid',
]);

/** Redacts a URL's secret query values; returns the URL text to send. */
export type UrlRedactor = (url: URL) => string;

/**
 * The redactor for `requestProperties.redact`: `undefined` (the default list), a list of more
 * parameter names (matched whole, case-insensitively), or `false` to send URLs as they came.
 */
export function normalizeRedaction(value: unknown): UrlRedactor | undefined {
  if (value === false) return undefined;
  if (value !== undefined && !(Array.isArray(value) && value.every((name) => typeof name === 'string' && name !== ''))) {
    throw new ConfigError(
      'requestProperties.redact',
      `must be a list of query parameter names to redact besides the built-in ones, or false to send URLs unredacted, got ${describe(value)}`,
    );
  }
  const extra = new Set((value ?? []).map((name: string) => name.toLowerCase()));
  return (url) => redactUrl(url, extra);
}

function redactUrl(url: URL, extra: ReadonlySet<string>): string {
  if (url.search === '') return url.href;
  let changed = false;
  const params = new URLSearchParams();
  for (const [name, value] of url.searchParams) {
    const secret = value !== '' && isSecretName(name, extra);
    changed ||= secret;
    params.append(name, secret ? REDACTED : value);
  }
  if (!changed) return url.href;
  const copy = new URL(url.href);
  copy.search = params.toString();
  return copy.href;
}

function isSecretName(name: string, extra: ReadonlySet<string>): boolean {
  const lower = name.toLowerCase();
  if (lower.startsWith('utm_') || KEPT.has(lower)) return false;
  if (extra.has(lower)) return true;
  for (const word of name.match(/[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+/g) ?? []) {
    if (SECRET_WORDS.has(word.toLowerCase())) return true;
  }
  return false;
}

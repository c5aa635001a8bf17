import { UserIdError } from './errors.js';
import { API_LIMITS, describe } from './options.js';

/**
 * Values Mixpanel refuses as ids (`distinct_id`, `$user_id`, `$device_id`), compared lower-cased
 * (mixpanel-contract §5.3 C16). A user id equal to one of these would merge every "anonymous"
 * user into one profile, so it is treated as "not authenticated".
 */
export const DENYLISTED_IDS: ReadonlySet<string> = new Set([
  'anon',
  'anonymous',
  'nil',
  'none',
  'null',
  'n/a',
  'na',
  'undefined',
  'unknown',
  '<nil>',
  '0',
  '-1',
  'true',
  'false',
  '[]',
  '{}',
  '00000000-0000-0000-0000-000000000000',
  'lmy47d',
]);

/**
 * Turns whatever the app's auth layer holds into a sendable `$user_id`:
 * `undefined` when anonymous, a string when valid, or a `UserIdError` saying why it was refused.
 * Strings are kept byte for byte (Mixpanel compares ids exactly); numbers and bigints become strings.
 */
export function normalizeUserId(raw: unknown): string | undefined | UserIdError {
  if (raw === undefined || raw === null) return undefined;
  let id: string;
  if (typeof raw === 'string') id = raw;
  else if (typeof raw === 'number' && Number.isFinite(raw)) id = String(raw);
  else if (typeof raw === 'bigint') id = raw.toString();
  else return invalid(`is ${describe(raw)}; give a string or number (the app's stable user id)`);

  if (id.trim() === '') return invalid('is empty or whitespace');
  if (id.length > API_LIMITS.stringId) return invalid(`is ${id.length} characters long; the limit is ${API_LIMITS.stringId}`);
  if (DENYLISTED_IDS.has(id.toLowerCase())) return invalid(`${JSON.stringify(id)} is a placeholder Mixpanel refuses as an id`);
  if (id.startsWith('$device:')) return invalid('starts with "$device:", the prefix Mixpanel reserves for device ids');
  return id;
}

function invalid(why: string): UserIdError {
  return new UserIdError('IDSTITCH_INVALID_USER_ID', `user id ${why}; the request is treated as anonymous`);
}

/** A `getUserId` that threw: reported, and the request is anonymous. */
export function userIdFailure(error: unknown): UserIdError {
  return new UserIdError(
    'IDSTITCH_GET_USER_ID_FAILED',
    `getUserId threw (${(error as Error)?.message ?? String(error)}); the request is treated as anonymous`,
    { cause: error },
  );
}

import { DENYLISTED_IDS } from '../user.js';
import { DEVICE_PREFIX } from '../id-merge.js';

/** Where an id was seen: an event's identity fields, or a profile's `$distinct_id`. */
export type IdField = '$device_id' | '$user_id' | 'profile';

/**
 * What may be wrong with an id. Deny-listed ids are certain mistakes (Mixpanel refuses them on strict
 * `/import`, and anywhere else every visitor hitting the bug becomes one user). The rest are only the
 * shapes that are almost never a real stable id, so the check stays quiet on ordinary data:
 * - `email`: the guide says use a database id, since a user id can never change or merge;
 * - `stringified`: what JavaScript prints for an object or a failed number conversion;
 * - `whitespace`: ids are compared byte for byte, so `" 42"` and `"42"` are two users;
 * - `device-prefix`: a user id in the namespace Mixpanel reserves for devices (contract §5.3 C15);
 * - `device-as-user` (decided after reading everything): a user id also seen as a `$device_id`, as when
 *   an anonymous id is sent as a bare `distinct_id` and becomes a phantom user (C7).
 */
export type IdProblem = 'denylisted' | 'email' | 'stringified' | 'whitespace' | 'device-prefix' | 'device-as-user';

// Deliberately loose on the local part and strict on the shape (one @, a dot in the domain, no spaces):
// it only has to tell an address from an opaque id.
const EMAIL = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;
const STRINGIFIED = /^(\[object [A-Za-z]+\]|NaN|-?Infinity)$/;

/** The problem with `value` seen as `field`, the most serious first; undefined when it looks like a real id. */
export function idProblem(value: string, field: IdField): IdProblem | undefined {
  if (DENYLISTED_IDS.has(value.toLowerCase())) return 'denylisted';
  if (STRINGIFIED.test(value)) return 'stringified';
  if (value !== value.trim()) return 'whitespace';
  // Only user-level ids: a device id is opaque by design, and another system's id as a device id is a documented pattern (C17).
  if (field === '$device_id') return undefined;
  if (value.startsWith(DEVICE_PREFIX)) return field === '$user_id' ? 'device-prefix' : undefined; // a profile on a device: another check
  if (EMAIL.test(value)) return 'email';
  return undefined;
}

/** Why each problem matters, for the report. */
export const ID_PROBLEM_TEXT: Readonly<Record<IdProblem, string>> = {
  denylisted:
    "is on Mixpanel's deny-list of placeholder ids: strict /import refuses the event, and where one is accepted every visitor sending the placeholder becomes one user",
  email:
    "looks like an e-mail address: user ids can never change or merge, so a changed address makes a new user; send the app's database id",
  stringified: 'looks like a value converted to text by mistake: every user that hits the bug shares it',
  whitespace: 'has leading or trailing whitespace: Mixpanel compares ids byte for byte, so it is a different user from the trimmed id',
  'device-prefix': 'starts with "$device:", the prefix Mixpanel reserves for device ids',
  'device-as-user': 'is also sent as a $device_id: an anonymous id sent as a bare distinct_id or $user_id becomes a second, phantom user',
};

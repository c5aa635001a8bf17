// The pieces every check is written with: the list of checks, a check's verdict, counts in words.
import type { CheckId, CheckStatus, DoctorCheck, DoctorExample, Fact } from './report.js';

/** The checks, in the order of the QA list in Mixpanel's guide; titles state what passes, in the guide's words where it has them. */
export const DOCTOR_CHECKS: Readonly<Record<CheckId, { readonly title: string; readonly unit: string }>> = {
  'pre-post-login': { title: 'Pre- and post-login events are linked to the same user', unit: 'user' },
  'shared-devices': { title: 'No device is used by two users (the device id is reset on logout)', unit: 'device' },
  'anonymous-profiles': { title: 'No profiles for anonymous users, no duplicate profiles', unit: 'profile' },
  'unidentified-users': { title: 'Every user has an identified event (one carrying $device_id and $user_id)', unit: 'user' },
  'denylisted-ids': { title: 'No deny-listed ids (the placeholders Mixpanel refuses)', unit: 'record' },
  'suspicious-ids': { title: 'User ids are stable database ids, not e-mails or values converted by mistake', unit: 'id' },
  'insert-ids': { title: 'Every event has its own $insert_id', unit: 'event' },
};

export function check(
  id: CheckId,
  status: CheckStatus,
  count: number,
  summary: string,
  found: readonly DoctorExample[],
  examples: number,
  facts: Record<string, Fact> = {},
): DoctorCheck {
  const { title, unit } = DOCTOR_CHECKS[id];
  return { id, title, status: count === 0 ? 'pass' : status, count, unit, summary, facts, examples: found.slice(0, examples) };
}

export function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

/** The verb agreeing with `n`: `verb(1, 'was', 'were')`. */
export function verb(n: number, one: string, many: string): string {
  return n === 1 ? one : many;
}

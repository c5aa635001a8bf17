/**
 * What `idstitch doctor` reports: the QA list of Mixpanel's "Identifying Users (Simplified)" guide as
 * checks with counts and examples. The same object is `runDoctor`'s result, the body of the collector's
 * `GET /api/doctor` and the output of `idstitch doctor --json`, so its field names follow the query API
 * (`insert_id`, `device_id`, …).
 */

/** `fail`: data Mixpanel will attribute wrongly or drop; `warn`: a practice the guide advises against. */
export type CheckStatus = 'pass' | 'warn' | 'fail';

export type CheckId =
  'pre-post-login' | 'shared-devices' | 'anonymous-profiles' | 'unidentified-users' | 'denylisted-ids' | 'suspicious-ids' | 'insert-ids';

/** A value in `facts`: counts, ids, lists of ids. */
export type Fact = string | number | boolean | null | readonly string[];

/** One event shown as evidence. */
export interface ExampleEvent {
  readonly event: string;
  /** ms since the epoch; null when the record carried no time. */
  readonly time: number | null;
  readonly insert_id: string | null;
  readonly device_id: string | null;
  readonly user_id: string | null;
  /** The `distinct_id` derived at ingestion (before any link resolved it). */
  readonly distinct_id: string;
  /** Why this event is shown. */
  readonly note: string;
}

/** One thing a check found: a device, a user, a profile, an id or an `$insert_id`. */
export interface DoctorExample {
  /** What the example is about: a `$device:` id, a user id, a profile's `$distinct_id`, an id value or an `$insert_id`. */
  readonly subject: string;
  /** One sentence: what is wrong with it and what Mixpanel makes of it. */
  readonly detail: string;
  /** The numbers and ids behind `detail`, for scripts. */
  readonly facts: Readonly<Record<string, Fact>>;
  /** Up to `examples` of the events involved. */
  readonly events: readonly ExampleEvent[];
}

export interface DoctorCheck {
  readonly id: CheckId;
  /** The guide's QA wording, as a statement that passes. */
  readonly title: string;
  readonly status: CheckStatus;
  /** How many `unit`s were found wrong (0 when it passes). */
  readonly count: number;
  /** Singular: `device`, `user`, `profile`, `event`, `id`, `$insert_id`. */
  readonly unit: string;
  /** What was found and why it matters, in a sentence or two. */
  readonly summary: string;
  readonly facts: Readonly<Record<string, Fact>>;
  /** The first `examples` things found, in the order they were ingested. */
  readonly examples: readonly DoctorExample[];
}

export interface DoctorReport {
  /** The worst status of any check. */
  readonly status: CheckStatus;
  /** What was read: a file, a collector's URL, a store. */
  readonly source: string;
  readonly totals: {
    readonly events: number;
    readonly users: number;
    readonly devices: number;
    readonly profiles: number;
    /** Records that were neither an event nor a profile (unparseable lines, other shapes). */
    readonly skipped: number;
  };
  readonly checks: readonly DoctorCheck[];
}

/** One event as the analysis reads it, in ingestion order. A collector's `StoredEvent` is one. */
export interface DoctorEvent {
  readonly event: string;
  /** ms since the epoch, or null when unknown. */
  readonly time: number | null;
  readonly insertId: string | null;
  /** `$device_id` without the `$device:` prefix, or null. */
  readonly deviceId: string | null;
  readonly userId: string | null;
  /** The `distinct_id` as ingestion derived it (`$user_id`, else `$device:<id>`, else what was sent). */
  readonly distinctId: string;
}

/** A user profile: its exact `$distinct_id` and its properties. */
export interface DoctorProfile {
  readonly distinctId: string;
  readonly properties: Readonly<Record<string, unknown>>;
}

/** What a source yields: events in ingestion order, then profiles. */
export interface DoctorInput {
  readonly description: string;
  readonly events: Iterable<DoctorEvent>;
  readonly profiles: Iterable<DoctorProfile>;
  /** Records the source could not read as an event or a profile. */
  readonly skipped: number;
}

const RANK: Readonly<Record<CheckStatus, number>> = { pass: 0, warn: 1, fail: 2 };

export function worst(statuses: Iterable<CheckStatus>): CheckStatus {
  let result: CheckStatus = 'pass';
  for (const status of statuses) if (RANK[status] > RANK[result]) result = status;
  return result;
}

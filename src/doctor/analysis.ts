import { IDENTITY_EVENTS, IdentityGraph, type LinkOutcome } from '../id-merge.js';
import { idProblem, type IdField, type IdProblem } from './ids.js';
import type { DoctorEvent, ExampleEvent } from './report.js';

/** One event, numbered in ingestion order, with what it did to the identity graph. */
export interface Entry {
  readonly seq: number;
  readonly event: DoctorEvent;
  readonly outcome: LinkOutcome;
}

export interface DeviceSeen {
  /** Every event carrying this `$device_id`, in ingestion order. */
  readonly entries: Entry[];
  /** Every `$user_id` seen on an event with this device, in the order first seen. */
  readonly users: Set<string>;
}

export interface UserSeen {
  events: number;
  /** The first few of the user's events, for examples. */
  readonly first: Entry[];
  /** Devices seen with this user on an event that can link them (not an identity verb). */
  readonly devices: Set<string>;
  /** Seen with a device only on `$identify`/`$create_alias`/`$merge`, which link nothing in Simplified projects. */
  verbOnly: boolean;
}

export interface IdSeen {
  readonly value: string;
  readonly problem: IdProblem;
  readonly fields: Set<IdField>;
  events: number;
  profiles: number;
  readonly first: Entry[];
}

/** Per `$insert_id`: the de-duplication keys it was sent with and how often each. */
export interface InsertIdSeen {
  readonly keys: Map<string, { count: number; readonly entry: Entry }>;
  events: number;
}

/**
 * One pass over the events in ingestion order: replays the collector's `IdentityGraph` (first link wins,
 * contract §5.5), so an export is resolved as Mixpanel would have, and keeps what the checks need.
 * Memory grows with the events that carry a device or an `$insert_id`: the doctor is a QA tool for a
 * development or staging project, not for a production-sized export.
 */
export class Observations {
  readonly graph = new IdentityGraph();
  readonly devices = new Map<string, DeviceSeen>();
  readonly users = new Map<string, UserSeen>();
  /** Ids with a problem, by field and value. */
  readonly ids = new Map<string, IdSeen>();
  /** Events and profiles carrying a deny-listed id. */
  denylistedRecords = 0;
  readonly insertIds = new Map<string, InsertIdSeen>();
  missingInsertIds = 0;
  /** The first few events without an `$insert_id`. */
  readonly missingFirst: Entry[] = [];
  events = 0;
  readonly #verdicts = new Map<string, IdProblem | null>();

  constructor(readonly examples: number) {}

  add(event: DoctorEvent): void {
    const seq = ++this.events;
    const link = !IDENTITY_EVENTS.has(event.event);
    const { deviceId, userId } = event;
    const outcome = this.graph.observe(
      { deviceId: deviceId ?? undefined, userId: userId ?? undefined, distinctId: event.distinctId },
      link,
      seq,
    );
    this.graph.commit(); // nothing to roll back: the doctor persists nothing
    const entry: Entry = { seq, event, outcome };

    if (deviceId !== null) {
      let device = this.devices.get(deviceId);
      if (!device) this.devices.set(deviceId, (device = { entries: [], users: new Set() }));
      device.entries.push(entry);
      if (userId !== null) device.users.add(userId);
    }
    if (userId !== null) {
      let user = this.users.get(userId);
      if (!user) this.users.set(userId, (user = { events: 0, first: [], devices: new Set(), verbOnly: false }));
      user.events++;
      if (user.first.length < this.examples) user.first.push(entry);
      if (deviceId !== null) {
        if (link) user.devices.add(deviceId);
        else user.verbOnly = true;
      }
    }

    let denylisted = false;
    if (deviceId !== null) denylisted = this.#checkId(deviceId, '$device_id', entry) || denylisted;
    if (userId !== null) denylisted = this.#checkId(userId, '$user_id', entry) || denylisted;
    if (denylisted) this.denylistedRecords++;

    if (event.insertId === null) {
      if (this.missingInsertIds++ < this.examples) this.missingFirst.push(entry);
    } else {
      let seen = this.insertIds.get(event.insertId);
      if (!seen) this.insertIds.set(event.insertId, (seen = { keys: new Map(), events: 0 }));
      seen.events++;
      // Mixpanel's de-duplication key (contract §4): event, distinct_id as ingested, time, $insert_id.
      const key = `${event.event}\u0000${event.distinctId}\u0000${event.time}`;
      const copy = seen.keys.get(key);
      if (copy) copy.count++;
      else seen.keys.set(key, { count: 1, entry });
    }
  }

  /** Records a profile's id problem; true when its id is deny-listed. */
  addProfileId(distinctId: string): boolean {
    const problem = this.#problem(distinctId, 'profile');
    if (!problem) return false;
    this.#seen(distinctId, problem, 'profile').profiles++;
    if (problem === 'denylisted') this.denylistedRecords++;
    return problem === 'denylisted';
  }

  /** A problem found only once everything is read (a user id that is also a device id). */
  flagId(value: string, problem: IdProblem, field: IdField): IdSeen {
    return this.#seen(value, problem, field);
  }

  #checkId(value: string, field: IdField, entry: Entry): boolean {
    const problem = this.#problem(value, field);
    if (!problem) return false;
    const seen = this.#seen(value, problem, field);
    seen.events++;
    if (seen.first.length < this.examples) seen.first.push(entry);
    return problem === 'denylisted';
  }

  #problem(value: string, field: IdField): IdProblem | undefined {
    const key = `${field}\u0000${value}`;
    let verdict = this.#verdicts.get(key);
    if (verdict === undefined) this.#verdicts.set(key, (verdict = idProblem(value, field) ?? null));
    return verdict ?? undefined;
  }

  #seen(value: string, problem: IdProblem, field: IdField): IdSeen {
    const key = `${problem}\u0000${value}`;
    let seen = this.ids.get(key);
    if (!seen) this.ids.set(key, (seen = { value, problem, fields: new Set(), events: 0, profiles: 0, first: [] }));
    seen.fields.add(field);
    return seen;
  }
}

/** An event as the report shows it. */
export function example(entry: Entry, note: string): ExampleEvent {
  const { event } = entry;
  return {
    event: event.event,
    time: event.time,
    insert_id: event.insertId,
    device_id: event.deviceId,
    user_id: event.userId,
    distinct_id: event.distinctId,
    note,
  };
}

/** Time order, ingestion order breaking ties (and placing events without a time first). */
export function byTime(a: Entry, b: Entry): number {
  return (a.event.time ?? -1) - (b.event.time ?? -1) || a.seq - b.seq;
}

/** One anonymous event that Mixpanel attributes to the device's first user, though the next person to log in on the device was someone else. */
export interface Misattributed {
  readonly entry: Entry;
  /** The user whose login followed it on the device. */
  readonly owner: string;
}

/**
 * What the first-link rule cost a device used by several users: its anonymous events that preceded another
 * user's login (in time order) but resolve to the first user, and the events whose link was refused
 * because the device already belonged to someone (contract §5.5). "Preceded another user's login" is a
 * heuristic: anonymous activity belongs to whoever logs in next on that device; activity after the last
 * login is nobody's, so it is never counted.
 */
export function firstLinkCost(device: DeviceSeen, linkedTo: string | null): { misattributed: Misattributed[]; refused: Entry[] } {
  const refused = device.entries.filter((entry) => entry.outcome === 'conflict');
  if (linkedTo === null) return { misattributed: [], refused };
  const ordered = [...device.entries].sort(byTime);
  const misattributed: Misattributed[] = [];
  let next: string | undefined;
  for (let i = ordered.length - 1; i >= 0; i--) {
    const entry = ordered[i]!;
    if (entry.event.userId !== null) next = entry.event.userId;
    else if (next !== undefined && next !== linkedTo) misattributed.push({ entry, owner: next });
  }
  return { misattributed: misattributed.reverse(), refused };
}

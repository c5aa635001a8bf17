// The simple Simplified ID Merge derivation the recording server shows (mixpanel-contract.md §5.10,
// reduced to what a person clicking through the example needs to see):
//   - an event's distinct_id is its $user_id, else "$device:" + its $device_id;
//   - the first event carrying both ids links that device to that user, and the first link wins;
//   - resolution happens at read time, so events sent before the link show the user retroactively.
// A teaching aid, not the collector: no profiles, no time windows, no persistence.

/** One stored event, as received plus what was derived at ingestion. */
export interface RecordedEvent {
  /** Arrival order, from 1. */
  readonly seq: number;
  readonly receivedAt: number;
  readonly endpoint: '/import' | '/track';
  readonly event: string;
  /** The event's own `time`, in ms (seconds are converted). */
  readonly time: number | undefined;
  readonly insertId: string | undefined;
  readonly deviceId: string | undefined;
  readonly userId: string | undefined;
  /** What Mixpanel sets as distinct_id when the event arrives. */
  readonly derivedDistinctId: string;
  /** True when this event tried to link a device that was already linked to another user (ignored). */
  readonly linkConflict: boolean;
  readonly properties: Readonly<Record<string, unknown>>;
}

export interface Cluster {
  userId: string;
  /** Device ids linked to this user, in link order. */
  devices: string[];
  /** Events that resolve to this user. */
  events: number;
}

const DEVICE_PREFIX = '$device:';

export class IdMerge {
  /** device id → user id; first link wins and is never overwritten. */
  readonly #links = new Map<string, string>();
  readonly #users = new Set<string>();
  readonly #events: RecordedEvent[] = [];
  readonly #maxEvents: number;
  #seq = 0;
  /** Events no longer kept because `maxEvents` was reached (oldest first). */
  evicted = 0;

  constructor(maxEvents: number) {
    this.#maxEvents = maxEvents;
  }

  /** Stores one already validated event and applies its identity effect. */
  add(endpoint: RecordedEvent['endpoint'], event: string, properties: Record<string, unknown>): RecordedEvent {
    let deviceId = stringId(properties.$device_id);
    let userId = stringId(properties.$user_id);
    if (deviceId?.startsWith(DEVICE_PREFIX)) deviceId = deviceId.slice(DEVICE_PREFIX.length);
    // Older senders put the identity in distinct_id only.
    const given = stringId(properties.distinct_id);
    if (deviceId === undefined && userId === undefined && given !== undefined) {
      if (given.startsWith(DEVICE_PREFIX)) deviceId = given.slice(DEVICE_PREFIX.length);
      else userId = given;
    }
    const derivedDistinctId = userId ?? (deviceId !== undefined ? DEVICE_PREFIX + deviceId : '');
    let linkConflict = false;
    if (userId !== undefined) this.#users.add(userId);
    if (userId !== undefined && deviceId !== undefined) {
      const linked = this.#links.get(deviceId);
      if (linked === undefined) this.#links.set(deviceId, userId);
      else if (linked !== userId) linkConflict = true; // Mixpanel: errAnonDistinctIdAssignedAlready
    }
    const recorded: RecordedEvent = {
      seq: ++this.#seq,
      receivedAt: Date.now(),
      endpoint,
      event,
      time: toMs(properties.time),
      insertId: stringId(properties.$insert_id),
      deviceId,
      userId,
      derivedDistinctId,
      linkConflict,
      properties,
    };
    this.#events.push(recorded);
    if (this.#events.length > this.#maxEvents) {
      this.#events.shift();
      this.evicted++;
    }
    return recorded;
  }

  /** The distinct_id an analysis would show now: a linked device's events belong to its user. */
  resolve(distinctId: string): string {
    if (distinctId.startsWith(DEVICE_PREFIX)) return this.#links.get(distinctId.slice(DEVICE_PREFIX.length)) ?? distinctId;
    return distinctId;
  }

  events(): readonly RecordedEvent[] {
    return this.#events;
  }

  /** Every user seen, with the devices linked to them, in first-seen order. */
  clusters(): Cluster[] {
    const byUser = new Map<string, Cluster>();
    for (const userId of this.#users) byUser.set(userId, { userId, devices: [], events: 0 });
    for (const [deviceId, userId] of this.#links) byUser.get(userId)?.devices.push(deviceId);
    for (const event of this.#events) {
      const cluster = byUser.get(this.resolve(event.derivedDistinctId));
      if (cluster) cluster.events++;
    }
    return [...byUser.values()];
  }

  /** Devices seen that no user has claimed (yet), with their event counts. */
  anonymousDevices(): Array<{ deviceId: string; events: number }> {
    const counts = new Map<string, number>();
    for (const event of this.#events) {
      if (event.deviceId !== undefined && !this.#links.has(event.deviceId)) counts.set(event.deviceId, (counts.get(event.deviceId) ?? 0) + 1);
    }
    return [...counts].map(([deviceId, events]) => ({ deviceId, events }));
  }
}

function stringId(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Mixpanel accepts seconds or milliseconds; anything below 1e11 is taken as seconds. */
function toMs(value: unknown): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  return value < 1e11 ? value * 1000 : value;
}

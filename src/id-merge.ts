/**
 * Simplified ID Merge, as mixpanel-contract §5.10 derives it from Mixpanel's docs and live probes.
 * Derivation is pure; the device→user links live in `IdentityGraph`, first write wins by ingestion order.
 * The collector ingests by these rules and the doctor checks recorded data against them.
 */

export const DEVICE_PREFIX = '$device:';

/** A numeric `time` at or above this is in milliseconds, below it in seconds (contract, *unconfirmed*). */
export const MILLISECONDS_FROM = 1e11;

/** Original ID Merge verbs: no identity effect in Simplified projects (contract §5.4). */
export { IDENTITY_EVENTS } from './event.js';

/** What Mixpanel once documented as the reason a device was not relinked (contract §5.3 C5, U15). */
export const ASSIGNED_ALREADY = 'errAnonDistinctIdAssignedAlready';

export interface DerivationRules {
  /** C9: an unprefixed `distinct_id` with only `$device_id`: overridden (`'override'`) or taken as the user id (`'user'`). */
  readonly distinctIdWithDevice: 'override' | 'user';
}

/** The rules as Mixpanel documents them (the collector's defaults; its options can choose otherwise). */
export const MIXPANEL_RULES: DerivationRules = { distinctIdWithDevice: 'override' };

/** The identity fields of one event, as ingestion derives them. `undefined` means absent. */
export interface DerivedIdentity {
  /** `$device_id` without any `$device:` prefix (C14 strips one). */
  readonly deviceId: string | undefined;
  readonly userId: string | undefined;
  /** `userId`, else `$device:<deviceId>`, else the `distinct_id` sent (`''` is kept, C11), else undefined (C12). */
  readonly distinctId: string | undefined;
}

/** The identity values of an event's properties, already checked to be strings (or absent). */
export interface IdentityInput {
  readonly distinctId: string | undefined;
  readonly deviceId: string | undefined;
  readonly userId: string | undefined;
}

/**
 * R1/C1–C14: `distinct_id` := `$user_id`, else `$device:` + `$device_id`; a `distinct_id` sent alone is
 * read as a device when prefixed (C6) and as a user otherwise (C7). Empty `$device_id`/`$user_id` count as absent.
 */
export function deriveIdentity(input: IdentityInput, rules: DerivationRules): DerivedIdentity {
  let deviceId = input.deviceId === '' ? undefined : input.deviceId;
  let userId = input.userId === '' ? undefined : input.userId;
  if (deviceId !== undefined && deviceId.startsWith(DEVICE_PREFIX)) deviceId = deviceId.slice(DEVICE_PREFIX.length);
  const sent = input.distinctId;
  if (deviceId === undefined && userId === undefined && sent !== undefined && sent !== '') {
    if (sent.startsWith(DEVICE_PREFIX)) deviceId = sent.slice(DEVICE_PREFIX.length);
    else userId = sent;
  } else if (
    rules.distinctIdWithDevice === 'user' &&
    userId === undefined &&
    deviceId !== undefined &&
    sent &&
    !sent.startsWith(DEVICE_PREFIX)
  ) {
    userId = sent;
  }
  if (deviceId === '') deviceId = undefined; // `distinct_id: "$device:"` names no device
  const distinctId = userId ?? (deviceId !== undefined ? DEVICE_PREFIX + deviceId : sent);
  return { deviceId, userId, distinctId };
}

/** What an event carrying a device and a user did to the links (C3–C5). */
export type LinkOutcome = 'none' | 'linked' | 'already' | 'conflict';

/** One change the graph made, for the store to persist in the same transaction. */
export type GraphChange =
  | { readonly kind: 'device'; readonly deviceId: string; readonly seq: number }
  | { readonly kind: 'user'; readonly userId: string; readonly seq: number }
  | { readonly kind: 'link'; readonly deviceId: string; readonly userId: string; readonly seq: number };

/**
 * The identity state: every device and user seen, and the device→user links. In memory for speed
 * (ingestion reads it per event); the store persists every change and reloads it on open.
 * Changes are logged per batch so a failed transaction can be undone (`rollback`).
 */
export class IdentityGraph {
  /** Device → its user, or null while anonymous. Every device seen has an entry. */
  readonly #userOf = new Map<string, string | null>();
  readonly #users = new Set<string>();
  readonly #devicesOf = new Map<string, Set<string>>();
  #log: GraphChange[] = [];

  /** Restores persisted state, in ingestion order (no log entries). */
  load(devices: Iterable<{ deviceId: string; userId: string | null }>, users: Iterable<string>): void {
    for (const user of users) this.#users.add(user);
    for (const { deviceId, userId } of devices) {
      this.#userOf.set(deviceId, userId);
      if (userId !== null) this.#attach(deviceId, userId);
    }
  }

  /**
   * Records what event `seq` says: the device and user exist, and the first event carrying both links
   * them (R3, retroactive by R8). A device already linked to another user stays with it (C5).
   */
  observe(identity: DerivedIdentity, link: boolean, seq: number): LinkOutcome {
    const { deviceId, userId } = identity;
    if (userId !== undefined && !this.#users.has(userId)) {
      this.#users.add(userId);
      this.#log.push({ kind: 'user', userId, seq });
    }
    if (deviceId === undefined) return 'none';
    const current = this.#userOf.get(deviceId);
    if (current === undefined) {
      this.#userOf.set(deviceId, null);
      this.#log.push({ kind: 'device', deviceId, seq });
    }
    if (userId === undefined || !link) return 'none';
    if (current === userId) return 'already';
    if (current !== undefined && current !== null) return 'conflict';
    this.#userOf.set(deviceId, userId);
    this.#attach(deviceId, userId);
    this.#log.push({ kind: 'link', deviceId, userId, seq });
    return 'linked';
  }

  /** The changes since the last `commit`/`rollback`, for persisting. */
  pending(): readonly GraphChange[] {
    return this.#log;
  }

  commit(): void {
    this.#log = [];
  }

  /** Undoes the changes since the last `commit`, newest first. */
  rollback(): void {
    for (const change of this.#log.reverse()) {
      if (change.kind === 'user') this.#users.delete(change.userId);
      else if (change.kind === 'device') this.#userOf.delete(change.deviceId);
      else {
        this.#userOf.set(change.deviceId, null);
        this.#devicesOf.get(change.userId)?.delete(change.deviceId);
      }
    }
    this.#log = [];
  }

  clear(): void {
    this.#userOf.clear();
    this.#users.clear();
    this.#devicesOf.clear();
    this.#log = [];
  }

  /** The user a device is linked to; null when seen but anonymous; undefined when never seen. */
  userOf(deviceId: string): string | null | undefined {
    return this.#userOf.get(deviceId);
  }

  isUser(id: string): boolean {
    return this.#users.has(id);
  }

  isDevice(deviceId: string): boolean {
    return this.#userOf.has(deviceId);
  }

  /** The devices linked to a user, sorted. */
  devicesOf(userId: string): string[] {
    return [...(this.#devicesOf.get(userId) ?? [])].sort();
  }

  users(): IterableIterator<string> {
    return this.#users.values();
  }

  /** Devices never linked to a user. */
  *anonymousDevices(): IterableIterator<string> {
    for (const [deviceId, userId] of this.#userOf) if (userId === null) yield deviceId;
  }

  /** R4/R5: what a stored `distinct_id` resolves to now. `$device:D` with D linked → the user; anything else is itself. */
  canonical(distinctId: string): string {
    if (!distinctId.startsWith(DEVICE_PREFIX)) return distinctId;
    return this.#userOf.get(distinctId.slice(DEVICE_PREFIX.length)) ?? distinctId;
  }

  /** Every distinct id in the cluster `canonical` names: the user and its `$device:` ids, or the id alone. */
  cluster(canonical: string): string[] {
    if (canonical.startsWith(DEVICE_PREFIX)) return [canonical];
    return [canonical, ...this.devicesOf(canonical).map((d) => DEVICE_PREFIX + d)];
  }

  /**
   * The lookup rules of the query API: `$device:<id>` always names a device; an id seen as a
   * `$user_id` is that user; a bare id never seen as a user is looked up as a device. Undefined when unknown.
   */
  lookup(id: string): { readonly canonical: string; readonly userId: string | null; readonly deviceIds: string[] } | undefined {
    let deviceId: string;
    if (id.startsWith(DEVICE_PREFIX)) deviceId = id.slice(DEVICE_PREFIX.length);
    else if (this.#users.has(id)) return { canonical: id, userId: id, deviceIds: this.devicesOf(id) };
    else deviceId = id;
    const userId = this.#userOf.get(deviceId);
    if (userId === undefined) return undefined;
    if (userId === null) return { canonical: DEVICE_PREFIX + deviceId, userId: null, deviceIds: [deviceId] };
    return { canonical: userId, userId, deviceIds: this.devicesOf(userId) };
  }

  #attach(deviceId: string, userId: string): void {
    let set = this.#devicesOf.get(userId);
    if (!set) this.#devicesOf.set(userId, (set = new Set()));
    set.add(deviceId);
  }
}

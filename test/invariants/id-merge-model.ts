/**
 * A reference model of what the identity property test does to browsers, and of Simplified ID
 * Merge (mixpanel-contract §5): which events each step tracks, and what they resolve to.
 *
 * Browsers and users are numbers; a browser's device is labelled `b<browser>.<generation>` (a new
 * generation after each logout or device switch), so two runs of one scenario — whose real device
 * ids are random UUIDs — can be compared label for label.
 *
 * The ID-merge rules, kept as plain as possible:
 * - an event's `distinct_id` is its `$user_id`, else `$device:` + its `$device_id`;
 * - the first event carrying both a device and a user links that device to that user; later
 *   events carrying the device with another user leave the link alone (first link wins);
 * - an event without a user resolves to its device's user when the device is linked, else to the device;
 * - two users never merge.
 */

/** One step of the scenario, as a browser (one cookie jar) would take it. */
export type Step =
  | { kind: 'visit'; browser: number }
  | { kind: 'login'; browser: number; user: number }
  | { kind: 'logout'; browser: number }
  /** The same click tracked twice in one request: identical events but for `$insert_id`. */
  | { kind: 'double'; browser: number }
  /** The browser is replaced by a fresh one (a new profile, cleared cookies): new device, signed out. */
  | { kind: 'switch'; browser: number };

export interface ModelEvent {
  readonly name: string;
  /** The step's number, when the event carries it (`User Identified` does not: identifyUser sends no properties). */
  readonly n: number | undefined;
  readonly device: string;
  readonly user: string | undefined;
}

/** An event as the test compares it: name, step number, device label, user, and the cluster it resolves to. */
export type Resolved = readonly [name: string, n: number | '', device: string, user: string, resolvedTo: string];

export interface Cluster {
  readonly user: string | null;
  /** Device labels, sorted. */
  readonly devices: readonly string[];
}

export const userId = (user: number): string => `user-${user}`;

/** The events a scenario tracks, in order, and the device each browser shows after each step. */
export class BrowserModel {
  readonly events: ModelEvent[] = [];
  readonly #generation = new Map<number, number>();
  readonly #signedIn = new Map<number, string>();
  /** The user each browser's current device is linked to: what idstitch's cookie remembers (guardUserSwitch). */
  readonly #linked = new Map<number, string>();

  device(browser: number): string {
    return `b${browser}.${this.#generation.get(browser) ?? 0}`;
  }

  /** Applies step number `n`; returns the device label the browser holds after it. */
  apply(step: Step, n: number): string {
    const { browser } = step;
    const device = this.device(browser);
    const user = this.#signedIn.get(browser);
    const track = (name: string, carriesN = true, asUser = user): void =>
      void this.events.push({ name, n: carriesN ? n : undefined, device, user: asUser });
    switch (step.kind) {
      case 'visit':
        track('Viewed Page');
        break;
      case 'double':
        track('Clicked');
        track('Clicked');
        break;
      case 'login': {
        const id = userId(step.user);
        const linked = this.#linked.get(browser);
        // Another user signs in without a logout: idstitch gives the browser a new device first.
        if (linked !== undefined && linked !== id) this.#rotate(browser);
        this.#linked.set(browser, id);
        this.#signedIn.set(browser, id);
        const now = this.device(browser);
        this.events.push({ name: 'User Identified', n: undefined, device: now, user: id });
        this.events.push({ name: 'Logged In', n, device: now, user: id });
        break;
      }
      case 'logout':
        track('Logged Out');
        this.#rotate(browser);
        break;
      case 'switch':
        this.#rotate(browser);
        break;
    }
    return this.device(browser);
  }

  #rotate(browser: number): void {
    this.#generation.set(browser, (this.#generation.get(browser) ?? 0) + 1);
    this.#signedIn.delete(browser);
    this.#linked.delete(browser);
  }
}

/** Simplified ID Merge over events in ingestion order. */
export function resolve(events: readonly ModelEvent[]): { resolved: Resolved[]; clusters: Cluster[] } {
  const linkedTo = new Map<string, string>();
  for (const event of events) {
    if (event.user !== undefined && !linkedTo.has(event.device)) linkedTo.set(event.device, event.user);
  }
  const resolved = events.map((event): Resolved => [
    event.name,
    event.n ?? '',
    event.device,
    event.user ?? '',
    event.user ?? linkedTo.get(event.device) ?? `$device:${event.device}`,
  ]);

  const users = new Set(events.flatMap((event) => (event.user === undefined ? [] : [event.user])));
  const clusters: Cluster[] = [...users].map((user) => ({
    user,
    devices: [...linkedTo]
      .filter(([, to]) => to === user)
      .map(([device]) => device)
      .sort(),
  }));
  const anonymous = new Set(events.map((event) => event.device).filter((device) => !linkedTo.has(device)));
  for (const device of anonymous) clusters.push({ user: null, devices: [device] });
  return { resolved: sortResolved(resolved), clusters: sortClusters(clusters) };
}

export function sortResolved(rows: Resolved[]): Resolved[] {
  return rows.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : JSON.stringify(a) > JSON.stringify(b) ? 1 : 0));
}

export function sortClusters(clusters: Cluster[]): Cluster[] {
  const key = (cluster: Cluster): string => `${cluster.user ?? '~'} ${cluster.devices.join(',')}`;
  return clusters.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

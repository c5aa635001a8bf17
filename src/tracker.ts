import { TrackerCore } from './core.js';
import type { Identity } from './event.js';
import type { TrackerOptions } from './options.js';
import type { TrackerStats } from './stats.js';

/** Brand shared by every copy of idstitch in a process (ESM and CommonJS builds alike). */
const TRACKER = Symbol.for('idstitch.tracker');
/** Where a tracker keeps its internals: a registry symbol too, so every copy finds them. */
const CORE = Symbol.for('idstitch.core');

export interface ShutdownOptions {
  /** Deadline in ms; default `shutdownTimeoutMs` (25,000). Events still unsent then are counted as `shutdown_timeout`. */
  timeoutMs?: number;
}

/**
 * Builds events, queues them (bounded) and delivers them in batches with retries. One per process
 * is typical: the middleware makes one from its options (`middleware.tracker`), or takes one you
 * made with `createTracker` to share it between apps or use it outside requests.
 */
export class Tracker {
  constructor(options?: TrackerOptions) {
    // Not enumerable and not in the type: the object shows only its API.
    Object.defineProperty(this, CORE, { value: new TrackerCore(options) });
    Object.defineProperty(this, TRACKER, { value: true });
  }

  /**
   * Queues an event. Synchronous and cheap: nothing here waits on the network. Invalid input is
   * reported to `onError` with a stable code and counted; it never throws. `identity` gives the
   * `$device_id` / `$user_id` outside a request.
   *
   * @example tracker.track('Invoice Paid', { amount: 40 }, { userId: 'u-42' })
   */
  track(event: string, properties?: Record<string, unknown>, identity?: Identity): void {
    coreOf(this).track(event, properties, identity);
  }

  /** Sends everything queued so far; resolves (never rejects) when each event is delivered or given up. */
  flush(): Promise<void> {
    return coreOf(this).flush();
  }

  /**
   * Flushes, keeps retrying until everything is settled or the deadline passes, then closes
   * connections. Events still unsent at the deadline are counted (`shutdown_timeout`) and
   * reported. Later `track()` calls are counted and reported, never thrown. Idempotent.
   */
  shutdown(options: ShutdownOptions = {}): Promise<void> {
    return coreOf(this).shutdown(options.timeoutMs);
  }

  /** Counters: tracked, delivered, queued, requests, retries, bytes, drops by reason, identity, profiles. */
  stats(): TrackerStats {
    return coreOf(this).stats();
  }
}

/** Creates a tracker. See `TrackerOptions` for every option and its default. */
export function createTracker(options?: TrackerOptions): Tracker {
  return new Tracker(options);
}

/** True for a Tracker from any copy of idstitch loaded in this process. */
export function isTracker(value: unknown): value is Tracker {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[TRACKER] === true;
}

/** The internals of a tracker from any copy of idstitch. For adapters, through internal.ts. */
export function coreOf(tracker: Tracker): TrackerCore {
  return (tracker as unknown as Record<symbol, TrackerCore>)[CORE]!;
}

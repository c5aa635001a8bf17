import { Delivery } from './delivery.js';
import { DeliveryError, IdstitchError, InvalidEventError, UserIdError } from './errors.js';
import { buildEvent, type Identity } from './event.js';
import { normalizeOptions, type GetUserId, type TrackerConfig, type TrackerOptions } from './options.js';
import { LinkMemory } from './link-memory.js';
import { EventQueue } from './queue.js';
import { isOptedOut } from './privacy.js';
import { Reporter } from './report.js';
import type { RequestContext } from './request-context.js';
import { RequestScope, type ScopeHost } from './request-scope.js';
import { createStats, snapshot, type TrackerStats } from './stats.js';
import { Transport } from './transport.js';
import { profileUpdateJson, type ProfileUpdate } from './people.js';
import { DENYLISTED_IDS, normalizeUserId } from './user.js';

/** Brand shared by every copy of idstitch in a process (ESM and CommonJS builds alike). */
const TRACKER = Symbol.for('idstitch.tracker');

export interface ShutdownOptions {
  /** Deadline in ms; default `shutdownTimeoutMs` (25,000). Events still unsent then are counted as `shutdown_timeout`. */
  timeoutMs?: number;
}

/**
 * Builds events, queues them (bounded) and delivers them in batches with retries. One per
 * process is typical; adapters create one from options, or take one you made.
 */
export class Tracker implements ScopeHost {
  readonly [TRACKER] = true;
  readonly config: TrackerConfig;
  /** @internal Live counters; read them through stats(). */
  readonly counters: TrackerStats;
  readonly reporter: Reporter;
  /** @internal Links the device cookie could not record (see `LinkMemory`). */
  readonly links = new LinkMemory();
  readonly #queue: EventQueue;
  readonly #delivery: Delivery;
  readonly #transport: Transport;
  /** Profile updates: their own queue, delivery and connections to `/engage`, counted apart. */
  readonly #profileCounters: TrackerStats;
  readonly #profileQueue: EventQueue;
  readonly #profileDelivery: Delivery;
  readonly #profileTransport: Transport;
  #closed: Promise<void> | undefined;
  /** Set while the queue is refusing events: an outage reports its overflow once, not per event. */
  #overflowing = false;

  constructor(options?: TrackerOptions) {
    this.config = normalizeOptions(options);
    this.counters = createStats();
    this.reporter = new Reporter(this.config.onError, this.config.logger);
    this.#transport = new Transport({
      url: this.config.url,
      authorization: this.config.authorization,
      gzipLevel: this.config.gzipLevel,
      timeoutMs: this.config.timeoutMs,
      connections: this.config.maxConcurrentRequests,
    });
    this.#delivery = new Delivery(this.#transport, this.config.endpoint, this.config.retry, this.counters, this.reporter);
    this.#queue = new EventQueue(this.config, this.#delivery.deliver);
    this.#profileCounters = createStats();
    this.#profileTransport = new Transport({
      url: this.config.engageUrl,
      authorization: undefined, // /engage authenticates by the $token inside each update
      gzipLevel: false, // "This API does not support gzip encoding" (contract §1.4)
      timeoutMs: this.config.timeoutMs,
      connections: 1,
    });
    // /engage answers like /track?verbose=1: 200 with {status, error} (contract §3.3).
    this.#profileDelivery = new Delivery(this.#profileTransport, 'track', this.config.retry, this.#profileCounters, this.reporter);
    // One batch at a time, retries included: a later `$set` must never land before an earlier one
    // that is waiting to be retried, or the older value would win. Profiles are few.
    this.#profileQueue = new EventQueue({ ...this.config, maxConcurrentRequests: 1 }, this.#profileDelivery.deliver);
  }

  /** @internal Queues one validated profile update for `userId` (sent to `/engage`). Never throws. */
  profile(userId: string, update: ProfileUpdate): void {
    try {
      const counters = this.#profileCounters;
      if (this.#closed) {
        counters.dropped.tracker_closed++;
        return;
      }
      if (!this.config.canSend) {
        counters.dropped.not_configured++;
        return;
      }
      const json = profileUpdateJson(this.config.token, userId, update);
      if (!this.#profileQueue.push(json, Buffer.byteLength(json))) {
        counters.dropped.queue_full++;
        return;
      }
      counters.tracked++;
    } catch (error) {
      this.#internal(error);
    }
  }

  /**
   * Queues an event. Synchronous and cheap: nothing here waits on the network. Invalid input is
   * reported to `onError` with a stable code and counted; it never throws.
   * `identity` gives the `$device_id` / `$user_id` when tracking outside a request scope.
   */
  track(event: string, properties?: Record<string, unknown>, identity?: Identity): void {
    try {
      const checked: Identity = {};
      if (identity?.deviceId !== undefined) checked.deviceId = this.#checkDeviceId(identity.deviceId);
      if (identity?.userId !== undefined) {
        const userId = normalizeUserId(identity.userId);
        if (userId instanceof UserIdError) {
          this.counters.identity.invalidUserIds++;
          this.reporter.report(userId);
        } else checked.userId = userId;
      }
      this.emit(event, properties, checked);
    } catch (error) {
      this.#internal(error);
    }
  }

  /** @internal Builds and enqueues an event whose identity is already checked. Never throws. */
  emit(event: unknown, properties: unknown, identity: Identity, fromRequest?: Readonly<Record<string, unknown>>): void {
    try {
      if (this.#closed) {
        this.counters.dropped.tracker_closed++;
        this.reporter.report(new IdstitchError('IDSTITCH_TRACKER_CLOSED', `track(${JSON.stringify(String(event).slice(0, 60))}) after shutdown(): the event was dropped`));
        return;
      }
      const built = buildEvent(this.config, event, properties, identity, Date.now(), fromRequest);
      if (!this.config.canSend) {
        this.counters.dropped.not_configured++;
        if (this.counters.dropped.not_configured === 1) {
          this.reporter.report(
            new IdstitchError('IDSTITCH_NOT_CONFIGURED', 'no Mixpanel token (option `token` or MIXPANEL_TOKEN) and no `apiHost`: events are validated and counted (stats().dropped.not_configured), never sent'),
          );
        }
        return;
      }
      if (!this.#queue.push(built.json, built.bytes)) {
        this.counters.dropped.queue_full++;
        if (this.#overflowing) return;
        this.#overflowing = true;
        this.reporter.report(
          new DeliveryError('IDSTITCH_QUEUE_FULL', `the queue holds ${this.#queue.size} events (maxQueueSize ${this.config.maxQueueSize}, maxQueueBytes ${this.config.maxQueueBytes}): events are dropped until it drains (counted in stats().dropped.queue_full)`, {
            reason: 'queue_full',
            count: 1,
          }),
        );
        return;
      }
      this.#overflowing = false;
      this.counters.tracked++;
    } catch (error) {
      if (error instanceof InvalidEventError) {
        this.counters.dropped.invalid_event++;
        this.reporter.report(error);
      } else this.#internal(error);
    }
  }

  /** Sends everything queued so far; resolves (never rejects) when each event is delivered or given up. */
  flush(): Promise<void> {
    return Promise.all([this.#queue.flush(), this.#profileQueue.flush()]).then(() => undefined);
  }

  /**
   * Flushes, keeps retrying until everything is settled or the deadline passes, then closes
   * connections. Events still unsent at the deadline are counted (`shutdown_timeout`) and
   * reported. Later `track()` calls are counted and reported, never thrown. Idempotent.
   */
  shutdown(options: ShutdownOptions = {}): Promise<void> {
    this.#closed ??= this.#shutdown(options.timeoutMs ?? this.config.shutdownTimeoutMs);
    return this.#closed;
  }

  async #shutdown(timeoutMs: number): Promise<void> {
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) timeoutMs = this.config.shutdownTimeoutMs;
    this.#queue.stopTimer();
    this.#profileQueue.stopTimer();
    this.#delivery.hurry();
    this.#profileDelivery.hurry();
    let deadline: NodeJS.Timeout | undefined;
    const expired = new Promise<true>((resolve) => {
      // Ref'd on purpose: the process stays up until delivery ends or the deadline passes.
      deadline = setTimeout(() => resolve(true), timeoutMs);
    });
    const timedOut = await Promise.race([this.flush().then(() => false), expired]);
    clearTimeout(deadline);
    if (timedOut) {
      const before = this.counters.dropped.shutdown_timeout;
      const waiting = this.#queue.discardWaiting();
      this.counters.dropped.shutdown_timeout += waiting;
      this.#profileCounters.dropped.shutdown_timeout += this.#profileQueue.discardWaiting();
      this.#delivery.abort();
      this.#profileDelivery.abort();
      await Promise.all([this.#transport.close(true), this.#profileTransport.close(true)]);
      await this.flush();
      const left = this.counters.dropped.shutdown_timeout - before;
      this.reporter.report(
        new DeliveryError('IDSTITCH_SHUTDOWN_TIMEOUT', `shutdown deadline (${timeoutMs} ms) passed with ${left} events unsent; they were dropped`, {
          reason: 'shutdown_timeout',
          count: left,
        }),
      );
      return;
    }
    await Promise.all([this.#transport.close(), this.#profileTransport.close()]);
  }

  /** Counters: tracked, delivered, queued, requests, retries, bytes, drops by reason, identity events. */
  stats(): TrackerStats {
    const copy = snapshot(this.counters);
    copy.queued = this.#queue.size;
    const profiles = this.#profileCounters;
    copy.profiles = {
      ...copy.profiles,
      tracked: profiles.tracked,
      delivered: profiles.delivered,
      queued: this.#profileQueue.size,
      requests: profiles.requests,
      retries: profiles.retries,
      dropped: { ...profiles.dropped, invalid_event: copy.profiles.dropped.invalid_event, opted_out: copy.profiles.dropped.opted_out },
    };
    return copy;
  }

  /**
   * @internal Binds a request to this tracker. Adapters call it once per request.
   * `resolved` carries a user id the adapter already resolved for this request (Next's
   * `getUserId` is async, so it is awaited once before the scope exists); it then replaces every
   * resolver, and the scope still validates it. `resolved.consented` is the answer of an async
   * `privacy.consent` the adapter awaited the same way.
   */
  scope(context: RequestContext, req: unknown, defaultGetUserId?: GetUserId, resolved?: { readonly userId: unknown; readonly consented?: boolean }): RequestScope {
    const getUserId = resolved === undefined ? (this.config.getUserId ?? defaultGetUserId) : () => resolved.userId;
    // Decided before the scope reads or issues a cookie: an opted-out request must not get one.
    const optedOut = isOptedOut(this.config.privacy, context, req, this.reporter, resolved?.consented);
    if (optedOut) this.counters.identity.optedOut++;
    return new RequestScope(this, context, req, getUserId, optedOut);
  }

  #checkDeviceId(deviceId: unknown): string | undefined {
    if (typeof deviceId === 'string' && deviceId.trim() !== '' && deviceId.length <= 255 && !DENYLISTED_IDS.has(deviceId.toLowerCase())) {
      return deviceId;
    }
    this.reporter.report(new IdstitchError('IDSTITCH_INVALID_DEVICE_ID', 'identity.deviceId must be a non-placeholder string of at most 255 characters; the event is sent without it'));
    return undefined;
  }

  #internal(error: unknown): void {
    this.reporter.report(new IdstitchError('IDSTITCH_INTERNAL', `idstitch hit an unexpected error: ${(error as Error)?.message ?? String(error)}`, { cause: error }));
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

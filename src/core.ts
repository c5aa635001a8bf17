// The tracker's internals: the configuration, the two pipelines (events, profile updates), the
// counters, and what adapters call per request. Users see none of it: they hold a `Tracker`
// (tracker.ts), and adapters reach this through `coreOf` (internal.ts).
import { DeliveryError, IdstitchError, InvalidEventError, UserIdError } from './errors.js';
import { buildEvent, type Identity } from './event.js';
import { LinkMemory } from './link-memory.js';
import { normalizeOptions, type TrackerConfig } from './config.js';
import type { GetUserId, TrackerOptions } from './options.js';
import { profileUpdateJson, type ProfileUpdate } from './people.js';
import { Pipeline } from './pipeline.js';
import { consentAnswer, consentFailed, isOptedOut } from './privacy.js';
import { Reporter } from './report.js';
import type { RequestContext } from './request-context.js';
import { RequestScope, type ScopeHost } from './request-scope.js';
import { createIdentityCounters, type ScopeCounters, type TrackerStats } from './stats.js';
import { DENYLISTED_IDS, normalizeUserId, userIdFailure } from './user.js';

/**
 * A request's user id and consent, awaited once before its scope exists: what an adapter whose
 * resolvers may be async (Next) hands to `scope`.
 */
export interface ResolvedRequest {
  readonly userId: unknown;
  /** `privacy.consent`'s answer, or undefined when there is no consent hook. */
  readonly consented: boolean | undefined;
}

/** What an adapter gives `scope` besides the request context. */
export interface ScopeOptions {
  /** The framework's request object (Express `req`, Koa `ctx`), handed to `getUserId` and `privacy.consent`. */
  readonly req: unknown;
  /** The adapter's own user-id resolver (Passport's `req.user.id`, …), used when the app gave none. */
  readonly defaultGetUserId?: GetUserId | undefined;
  /** Already resolved by `resolve`: replaces every resolver and the consent hook. */
  readonly resolved?: ResolvedRequest | undefined;
}

export class TrackerCore implements ScopeHost {
  readonly config: TrackerConfig;
  readonly reporter: Reporter;
  readonly links = new LinkMemory();
  readonly counters: ScopeCounters;
  readonly #events: Pipeline;
  readonly #profiles: Pipeline;
  #closed: Promise<void> | undefined;
  /** Set while the queue is refusing events: an outage reports its overflow once, not per event. */
  #overflowing = false;

  constructor(options?: TrackerOptions) {
    const config = normalizeOptions(options);
    this.config = config;
    this.reporter = new Reporter(config.onError, config.logger);
    const { retry, timeoutMs } = config;
    this.#events = new Pipeline(
      {
        url: config.url,
        authorization: config.authorization,
        gzipLevel: config.gzipLevel,
        format: config.endpoint === 'import' ? 'import' : 'verbose',
        limits: config,
        retry,
        timeoutMs,
      },
      this.reporter,
    );
    this.#profiles = new Pipeline(
      {
        url: config.engageUrl,
        authorization: undefined, // /engage authenticates by the $token inside each update
        gzipLevel: false, // "This API does not support gzip encoding" (contract §1.4)
        format: 'verbose',
        // One batch at a time, retries included: a later `$set` must never land before an earlier
        // one that is waiting to be retried, or the older value would win.
        limits: { ...config, maxConcurrentRequests: 1 },
        retry,
        timeoutMs,
      },
      this.reporter,
    );
    this.counters = {
      dropped: this.#events.counters.dropped,
      identity: createIdentityCounters(),
      profiles: { held: 0, released: 0, notHeld: 0, dropped: this.#profiles.counters.dropped },
    };
  }

  /** `tracker.track`: an event outside any request, its identity given and checked here. Never throws. */
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

  /** Builds and queues an event whose identity is already checked. Never throws. */
  emit(event: unknown, properties: unknown, identity: Identity, fromRequest?: Readonly<Record<string, unknown>>): void {
    const dropped = this.counters.dropped;
    try {
      if (this.#closed) {
        dropped.tracker_closed++;
        this.reporter.report(
          new IdstitchError(
            'IDSTITCH_TRACKER_CLOSED',
            `track(${JSON.stringify(String(event).slice(0, 60))}) after shutdown(): the event was dropped`,
          ),
        );
        return;
      }
      const built = buildEvent(this.config, event, properties, identity, Date.now(), fromRequest);
      if (!this.config.canSend) {
        if (dropped.not_configured++ === 0) {
          this.reporter.report(
            new IdstitchError(
              'IDSTITCH_NOT_CONFIGURED',
              'no Mixpanel token (option `token` or MIXPANEL_TOKEN) and no `apiHost`: events are validated and counted (stats().dropped.not_configured), never sent',
            ),
          );
        }
        return;
      }
      if (this.#events.push(built.json, built.bytes)) {
        this.#overflowing = false;
        return;
      }
      dropped.queue_full++;
      if (this.#overflowing) return;
      this.#overflowing = true;
      const { maxQueueSize, maxQueueBytes } = this.config;
      this.reporter.report(
        new DeliveryError(
          'IDSTITCH_QUEUE_FULL',
          `the queue holds ${this.#events.size} events (maxQueueSize ${maxQueueSize}, maxQueueBytes ${maxQueueBytes}): events are dropped until it drains (counted in stats().dropped.queue_full)`,
          {
            reason: 'queue_full',
            count: 1,
          },
        ),
      );
    } catch (error) {
      if (error instanceof InvalidEventError) {
        dropped.invalid_event++;
        this.reporter.report(error);
      } else this.#internal(error);
    }
  }

  /** Queues one validated profile update for `userId` (sent to `/engage`). Never throws. */
  profile(userId: string, update: ProfileUpdate): void {
    const dropped = this.counters.profiles.dropped;
    try {
      if (this.#closed) dropped.tracker_closed++;
      else if (!this.config.canSend) dropped.not_configured++;
      else {
        const json = profileUpdateJson(this.config.token, userId, update);
        if (!this.#profiles.push(json, Buffer.byteLength(json))) dropped.queue_full++;
      }
    } catch (error) {
      this.#internal(error);
    }
  }

  flush(): Promise<void> {
    return Promise.all([this.#events.flush(), this.#profiles.flush()]).then(() => undefined);
  }

  shutdown(timeoutMs: number | undefined): Promise<void> {
    this.#closed ??= this.#shutdown(
      timeoutMs !== undefined && Number.isFinite(timeoutMs) && timeoutMs >= 0 ? timeoutMs : this.config.shutdownTimeoutMs,
    );
    return this.#closed;
  }

  async #shutdown(timeoutMs: number): Promise<void> {
    const pipelines = [this.#events, this.#profiles];
    for (const pipeline of pipelines) pipeline.hurry();
    let deadline: NodeJS.Timeout | undefined;
    const expired = new Promise<true>((resolve) => {
      // Ref'd on purpose: the process stays up until delivery ends or the deadline passes.
      deadline = setTimeout(() => resolve(true), timeoutMs);
    });
    const timedOut = await Promise.race([this.flush().then(() => false), expired]);
    clearTimeout(deadline);
    if (!timedOut) {
      await Promise.all(pipelines.map((pipeline) => pipeline.close()));
      return;
    }
    const before = this.counters.dropped.shutdown_timeout;
    await Promise.all(pipelines.map((pipeline) => pipeline.abort()));
    const left = this.counters.dropped.shutdown_timeout - before;
    this.reporter.report(
      new DeliveryError(
        'IDSTITCH_SHUTDOWN_TIMEOUT',
        `shutdown deadline (${timeoutMs} ms) passed with ${left} events unsent; they were dropped`,
        { reason: 'shutdown_timeout', count: left },
      ),
    );
  }

  stats(): TrackerStats {
    const events = this.#events.counters;
    const profiles = this.#profiles.counters;
    const { held, released, notHeld } = this.counters.profiles;
    return {
      tracked: events.tracked,
      delivered: events.delivered,
      queued: this.#events.size,
      requests: events.requests,
      retries: events.retries,
      splits: events.splits,
      bytesSent: events.bytesSent,
      dropped: { ...events.dropped },
      profiles: {
        tracked: profiles.tracked,
        delivered: profiles.delivered,
        queued: this.#profiles.size,
        requests: profiles.requests,
        retries: profiles.retries,
        dropped: { ...profiles.dropped },
        held,
        released,
        notHeld,
      },
      identity: { ...this.counters.identity },
    };
  }

  /**
   * Awaits the app's `getUserId` (the adapter's resolver here) and `privacy.consent` once for a
   * request, for adapters whose resolvers may be async (Next). Failures follow the same rules as
   * everywhere: a throwing resolver is reported and the request anonymous; a consent hook that throws
   * or answers anything but a boolean means no consent. Errors `passThrough` recognises (a
   * framework's control flow: Next's redirect() and notFound()) reach the framework unchanged.
   */
  async resolve(
    req: unknown,
    getUserId: ((req: never) => unknown) | undefined,
    passThrough: (error: unknown) => boolean,
  ): Promise<ResolvedRequest> {
    const userId = async (): Promise<unknown> => {
      if (getUserId === undefined) return undefined;
      try {
        return await getUserId(req as never);
      } catch (error) {
        if (passThrough(error)) throw error;
        this.counters.identity.userIdResolverErrors++;
        this.reporter.report(userIdFailure(error));
        return undefined;
      }
    };
    const consented = async (): Promise<boolean | undefined> => {
      const consent = this.config.privacy.consent;
      if (consent === undefined) return undefined;
      try {
        return consentAnswer(await consent(req), this.reporter);
      } catch (error) {
        if (passThrough(error)) throw error;
        return consentFailed(this.reporter, error);
      }
    };
    const [resolvedUserId, answer] = await Promise.all([userId(), consented()]);
    return { userId: resolvedUserId, consented: answer };
  }

  /** Binds one request to this tracker. Adapters call it once per request. */
  scope(context: RequestContext, options: ScopeOptions): RequestScope {
    const { req, resolved } = options;
    const getUserId = resolved === undefined ? (this.config.getUserId ?? options.defaultGetUserId) : () => resolved.userId;
    // Decided before the scope reads or issues a cookie: an opted-out request must not get one.
    const optedOut = isOptedOut(this.config.privacy, context, req, this.reporter, resolved?.consented);
    if (optedOut) this.counters.identity.optedOut++;
    return new RequestScope(this, context, req, getUserId, optedOut);
  }

  #checkDeviceId(deviceId: unknown): string | undefined {
    if (typeof deviceId === 'string' && deviceId.trim() !== '' && deviceId.length <= 255 && !DENYLISTED_IDS.has(deviceId.toLowerCase()))
      return deviceId;
    this.reporter.report(
      new IdstitchError(
        'IDSTITCH_INVALID_DEVICE_ID',
        'identity.deviceId must be a non-placeholder string of at most 255 characters; the event is sent without it',
      ),
    );
    return undefined;
  }

  #internal(error: unknown): void {
    this.reporter.report(
      new IdstitchError('IDSTITCH_INTERNAL', `idstitch hit an unexpected error: ${(error as Error)?.message ?? String(error)}`, {
        cause: error,
      }),
    );
  }
}

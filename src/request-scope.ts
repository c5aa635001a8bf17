import { privateCacheControl } from './cache-control.js';
import { DeviceIdentity, unwritable } from './device-identity.js';
import { IdstitchError, InvalidEventError } from './errors.js';
import type { Identity } from './event.js';
import { HeldProfiles } from './held-profiles.js';
import type { LinkMemory } from './link-memory.js';
import type { TrackerConfig } from './config.js';
import type { GetUserId } from './options.js';
import {
  checkProfileUpdate,
  MAX_HELD_COOKIE_BYTES,
  MAX_HELD_UPDATES,
  type People,
  type ProfileOperation,
  type ProfileUpdate,
} from './people.js';
import type { Reporter } from './report.js';
import type { RequestContext } from './request-context.js';
import { RequestUser } from './request-user.js';
import { requestProperties } from './request-properties.js';
import type { ScopeCounters } from './stats.js';

/** What a request scope needs from its tracker. */
export interface ScopeHost {
  readonly config: TrackerConfig;
  readonly counters: ScopeCounters;
  readonly reporter: Reporter;
  /** Links the device cookie could not record, kept for the browser's next request. */
  readonly links: LinkMemory;
  /** Builds and enqueues; never throws. `fromRequest`: the request's own properties (`requestProperties`), under the event's. */
  emit(event: unknown, properties: unknown, identity: Identity, fromRequest?: Readonly<Record<string, unknown>>): void;
  /** Queues a validated profile update for a user; never throws. */
  profile(userId: string, update: ProfileUpdate): void;
}

/**
 * One request's identity and what the request can do with it: track, identify on login, reset on
 * logout, update the user's profile, register properties. It coordinates the device
 * (device-identity.ts), the user (request-user.ts) and the held profile updates (held-profiles.ts), and writes
 * what they need into the response once, when its headers go out.
 */
export class RequestScope {
  readonly #host: ScopeHost;
  readonly #context: RequestContext;
  /** Opted out (Sec-GPC, DNT, consent): no cookie is written and nothing is sent or queued. */
  readonly #optedOut: boolean;
  readonly #device: DeviceIdentity;
  readonly #user: RequestUser;
  /** Profile updates held for this anonymous browser; undefined until needed, and without `cookie.secret`. */
  #held: HeldProfiles | undefined;
  #heldFullReported = false;
  /** The request's properties (`requestProperties`), computed on its first event; null when it has none. */
  #fromRequest: Readonly<Record<string, unknown>> | null | undefined;
  #hooked = false;
  /** Super properties registered for the rest of this request. */
  #registered: Record<string, unknown> | undefined;
  #track: ((event: string, properties?: Record<string, unknown>) => void) | undefined;
  #register: ((properties: Record<string, unknown>) => void) | undefined;
  #people: People | undefined;

  constructor(host: ScopeHost, context: RequestContext, req: unknown, getUserId: GetUserId | undefined, optedOut = false) {
    this.#host = host;
    this.#context = context;
    this.#optedOut = optedOut;
    this.#device = new DeviceIdentity(host, context, optedOut, () => this.#hook());
    this.#user = new RequestUser(req, getUserId, host.counters.identity, host.reporter);
  }

  /** This request's `$device_id`. */
  get deviceId(): string {
    return this.#device.deviceId;
  }

  /** This request's `$user_id`, or undefined when anonymous. Reads the app's auth each time. */
  get userId(): string | undefined {
    return this.#user.id;
  }

  /** Tracks an event with this request's identity. Synchronous; never throws. Bound: it can be passed around. */
  get track(): (event: string, properties?: Record<string, unknown>) => void {
    return (this.#track ??= (event, properties) => this.#trackEvent(event, properties));
  }

  /**
   * Super properties for the rest of this request (`req.register(props)`): under each event's own
   * properties, over the tracker's `superProperties`. Later calls add to earlier ones.
   */
  get register(): (properties: Record<string, unknown>) => void {
    return (this.#register ??= (properties) => {
      if (properties === null || typeof properties !== 'object' || Array.isArray(properties)) {
        this.#host.reporter.report(
          new InvalidEventError('IDSTITCH_INVALID_PROPERTIES', 'register(properties) takes a plain object', undefined),
        );
        return;
      }
      this.#registered = { ...this.#registered, ...properties };
    });
  }

  /** Profile updates for this request's user; held in a signed cookie while the browser is anonymous, sent on sign-in. */
  get people(): People {
    return (this.#people ??= {
      set: (properties) => this.#profile('set', properties),
      setOnce: (properties) => this.#profile('setOnce', properties),
      increment: (properties) => this.#profile('increment', properties),
      append: (properties) => this.#profile('append', properties),
      union: (properties) => this.#profile('union', properties),
      unset: (names) => this.#profile('unset', names),
    });
  }

  /**
   * Links this request's device to a user: sends one event carrying both `$device_id` and
   * `$user_id`, which is what makes Mixpanel merge them (retroactively). Later events of the
   * request carry the user id. Returns the user id linked, or undefined when there was none.
   */
  identify(userId?: unknown): string | undefined {
    const id = this.#user.signIn(userId);
    if (id === undefined) return undefined;
    if (this.#optedOut) {
      // The rest of the request still sees the user; nothing is linked, sent or written.
      this.#host.counters.dropped.opted_out++;
      return id;
    }
    this.#guard(id);
    const { identifyEvent, userIdProperty } = this.#host.config;
    const properties = this.#registered !== undefined || userIdProperty !== undefined ? this.#requestProperties(undefined, id) : undefined;
    this.#host.emit(identifyEvent, properties, { deviceId: this.#device.deviceId, userId: id }, this.#contextProperties());
    if (userIdProperty !== undefined) this.#host.profile(id, ['set', { [userIdProperty]: id }]);
    this.#release(id);
    return id;
  }

  /**
   * Logout: a new device id for the rest of the request and its response (Mixpanel's
   * `.reset()`), and no user id, so the next person on this browser starts a fresh identity.
   */
  reset(): void {
    this.#user.signOut();
    this.#heldProfiles()?.drop(); // made under the old device id: never anyone else's
    this.#device.rotate();
  }

  #trackEvent(event: string, properties?: Record<string, unknown>): void {
    if (this.#optedOut) {
      this.#host.counters.dropped.opted_out++;
      return;
    }
    const userId = this.#user.id;
    if (userId !== undefined) this.#guard(userId);
    const userIdProperty = this.#host.config.userIdProperty;
    const withRequest =
      this.#registered !== undefined || (userIdProperty !== undefined && userId !== undefined)
        ? this.#requestProperties(properties, userId)
        : properties;
    this.#host.emit(event, withRequest, { deviceId: this.#device.deviceId, userId }, this.#contextProperties());
  }

  /** The user-switch guard (device-identity.ts); a switch also drops what the previous user's device held. */
  #guard(userId: string): void {
    if (this.#device.guard(userId)) this.#heldProfiles()?.drop();
  }

  /** The request's properties under `requestProperties`, read once, on the first event. Never throws. */
  #contextProperties(): Readonly<Record<string, unknown>> | undefined {
    const settings = this.#host.config.requestProperties;
    if (settings === undefined) return undefined;
    if (this.#fromRequest === undefined) {
      try {
        this.#fromRequest = requestProperties(settings, this.#context) ?? null;
      } catch (error) {
        // A framework getter that throws (a broken trust-proxy function, say) costs the properties, never the event.
        this.#fromRequest = null;
        this.#host.reporter.report(
          new IdstitchError('IDSTITCH_INTERNAL', `could not read the request's properties: ${(error as Error)?.message}`, { cause: error }),
        );
      }
    }
    return this.#fromRequest ?? undefined;
  }

  /** The event's properties over this request's: registered super properties and the user id property. Never throws. */
  #requestProperties(properties: unknown, userId: string | undefined): unknown {
    // Not a plain object: passed on untouched, so buildEvent reports it as it would without us.
    if (properties !== undefined && properties !== null && (typeof properties !== 'object' || Array.isArray(properties))) return properties;
    try {
      const userIdProperty = this.#host.config.userIdProperty;
      const merged: Record<string, unknown> = { ...this.#registered };
      if (userIdProperty !== undefined && userId !== undefined) merged[userIdProperty] = userId;
      return Object.assign(merged, properties);
    } catch {
      return properties; // a throwing getter: buildEvent reports it
    }
  }

  #profile(operation: ProfileOperation, value: unknown): void {
    const { counters, reporter } = this.#host;
    if (this.#optedOut) {
      counters.profiles.dropped.opted_out++;
      return;
    }
    try {
      const update = checkProfileUpdate(operation, value);
      const userId = this.#user.id;
      if (userId === undefined) return this.#hold(update);
      this.#guard(userId); // a switch drops what the previous user's device held
      this.#release(userId); // earlier held updates first, so the order holds
      this.#host.profile(userId, update);
    } catch (error) {
      if (error instanceof InvalidEventError) {
        counters.profiles.dropped.invalid_event++;
        reporter.report(error);
      } else {
        reporter.report(
          new IdstitchError('IDSTITCH_INTERNAL', `idstitch could not take a profile update: ${(error as Error)?.message}`, {
            cause: error,
          }),
        );
      }
    }
  }

  /** An anonymous browser's update waits in its cookie: a `$device:` profile would never reach the user's. */
  #hold(update: ProfileUpdate): void {
    const { counters, reporter } = this.#host;
    const held = this.#heldProfiles();
    if (held === undefined) {
      counters.profiles.notHeld++;
      reporter.reportOnce(
        new IdstitchError(
          'IDSTITCH_PROFILE_NEEDS_SECRET',
          'profile updates for an anonymous browser are held in a signed cookie until sign-in, which needs cookie.secret (anything else would be forgeable): set it, or update profiles after identifyUser. Updates made anonymously are dropped (stats().profiles.notHeld)',
        ),
      );
      return;
    }
    if (unwritable(this.#context) !== undefined) {
      counters.profiles.notHeld++;
      reporter.report(
        new IdstitchError(
          'IDSTITCH_COOKIE_READ_ONLY',
          'a profile update for an anonymous browser must be held in a cookie, and none can be set here (a Server Component, or headers already sent): it was dropped',
        ),
      );
      return;
    }
    if (held.hold(this.#device.deviceId, update) === 'full') {
      counters.profiles.notHeld++;
      if (!this.#heldFullReported) {
        this.#heldFullReported = true;
        reporter.report(
          new IdstitchError(
            'IDSTITCH_PROFILE_HELD_FULL',
            `an anonymous browser holds at most ${MAX_HELD_UPDATES} profile updates in ${MAX_HELD_COOKIE_BYTES} bytes until sign-in; this one was dropped`,
          ),
        );
      }
      return;
    }
    counters.profiles.held++;
    this.#hook();
  }

  /** Sends what this browser's device held to `userId` (the guard has run: the device is theirs), and clears the cookie. */
  #release(userId: string): void {
    const updates = this.#heldProfiles()?.take(this.#device.deviceId);
    if (updates === undefined || updates.length === 0) return;
    for (const update of updates) this.#host.profile(userId, update);
    this.#host.counters.profiles.released += updates.length;
    if (unwritable(this.#context) === undefined) this.#hook();
  }

  /** The held updates, created on first need; undefined without `cookie.secret` (nothing is ever held). */
  #heldProfiles(): HeldProfiles | undefined {
    if (this.#held !== undefined) return this.#held;
    const signer = this.#host.config.profileSigner;
    return signer === undefined ? undefined : (this.#held = new HeldProfiles(this.#context, this.#host.config.cookie, signer));
  }

  #hook(): void {
    if (this.#hooked) return;
    this.#hooked = true;
    this.#context.onHeaders(() => this.#writeHeaders());
  }

  /** At header time: the cookies this response must carry, and `Cache-Control: private` with them. */
  #writeHeaders(): void {
    // A later change hooks again: an outer middleware can still reset after this one has written.
    this.#hooked = false;
    const context = this.#context;
    let wrote = false;
    try {
      if (this.#held?.pending === true) {
        this.#held.write(this.#device.deviceId, context.isSecure());
        wrote = true;
      }
      if (this.#device.write()) wrote = true;
      // A shared cache must never replay one visitor's cookies to others (one device id, many people).
      if (wrote) context.setResponseHeader('cache-control', privateCacheControl(context.getResponseHeader('cache-control')));
    } catch (error) {
      // A context learns only by trying that its place is read-only (Next: a Server Action helper
      // called from a Server Component); it says so with this code, and the id counts as unwritable.
      if (error instanceof IdstitchError && error.code === 'IDSTITCH_COOKIE_READ_ONLY') {
        this.#host.counters.identity.unwritable++;
        this.#host.reporter.report(error);
        return;
      }
      this.#host.reporter.report(
        new IdstitchError('IDSTITCH_INTERNAL', `could not write the idstitch cookies: ${(error as Error)?.message}`, { cause: error }),
      );
    }
  }
}

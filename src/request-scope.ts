import { IdstitchError, InvalidEventError, UserIdError } from './errors.js';
import { privateCacheControl } from './cache-control.js';
import { HeldProfiles } from './held-profiles.js';
import { deviceCookie, encodeDeviceValue, newDeviceId, readDeviceCookie } from './identity.js';
import type { LinkMemory } from './link-memory.js';
import { checkProfileUpdate, MAX_HELD_COOKIE_BYTES, MAX_HELD_UPDATES, type People, type ProfileOperation, type ProfileUpdate } from './people.js';
import { readBrowserSdkCookie } from './browser-sdk-cookie.js';
import type { Identity } from './event.js';
import type { GetUserId, TrackerConfig } from './options.js';
import type { Reporter } from './report.js';
import type { RequestContext } from './request-context.js';
import { requestProperties } from './request-properties.js';
import type { TrackerStats } from './stats.js';
import { normalizeUserId } from './user.js';

/** What a request scope needs from its tracker. */
export interface ScopeHost {
  readonly config: TrackerConfig;
  readonly counters: TrackerStats;
  readonly reporter: Reporter;
  /** Links the device cookie could not record, kept for the browser's next request. */
  readonly links: LinkMemory;
  /** Builds and enqueues; never throws. `fromRequest`: the request's own properties (`requestProperties`), under the event's. */
  emit(event: unknown, properties: unknown, identity: Identity, fromRequest?: Readonly<Record<string, unknown>>): void;
  /** Queues a validated profile update for a user; never throws. */
  profile(userId: string, update: ProfileUpdate): void;
}

/**
 * One request's identity: the device id (from a valid cookie, or new), the user id (the app's
 * auth, read when needed), and the three things a request can do with them: track, identify on
 * login, reset on logout. The cookie is written when the response headers go out, once.
 */
export class RequestScope {
  readonly #host: ScopeHost;
  readonly #context: RequestContext;
  readonly #req: unknown;
  readonly #getUserId: GetUserId | undefined;
  /** Opted out (Sec-GPC, DNT, consent): no cookie is written and nothing is sent or queued. */
  readonly #optedOut: boolean;
  /** The request's properties (`requestProperties`), computed on its first event; null when it has none. */
  #fromRequest: Readonly<Record<string, unknown>> | null | undefined;
  #deviceId: string;
  /** The cookie must be (re)written for this response. */
  #cookiePending = false;
  /** The request came without a valid cookie: writing one counts as `issued`. */
  #fresh = false;
  /** The device cookie line already in this response, which a later rotation replaces. */
  #written: string | undefined;
  #hooked = false;
  /** Set by identifyUser(req, id): wins over getUserId for the rest of the request. */
  #userId: string | undefined;
  /** Set by resetUser(req): the app's auth is no longer consulted in this request. */
  #signedOut = false;
  #lastRaw: unknown;
  #lastResolved: string | undefined;
  /** The tag of the user this browser's device id is linked to, as the cookie remembers it. */
  #link: string | undefined;
  /** The last user id checked against `#link` in this request: each is checked once. */
  #guarded: string | undefined;
  /** The device id is mixpanel-browser's (`deviceIdFrom`): the page's SDK rotates it, never this scope. */
  #sdkOwned = false;
  /** Super properties registered for the rest of this request. */
  #registered: Record<string, unknown> | undefined;
  #register: ((properties: Record<string, unknown>) => void) | undefined;
  #people: People | undefined;
  /** Profile updates held for this anonymous browser; undefined until needed, and without `cookie.secret`. */
  #held: HeldProfiles | undefined;
  #heldFullReported = false;

  constructor(host: ScopeHost, context: RequestContext, req: unknown, getUserId: GetUserId | undefined, optedOut = false) {
    this.#host = host;
    this.#optedOut = optedOut;
    this.#context = context;
    this.#req = req;
    this.#getUserId = getUserId;
    const sdk = readBrowserSdkCookie(context.cookieHeader(), host.config.browserSdkCookie);
    if (sdk.invalid) host.counters.identity.invalidBrowserSdkCookies++;
    const read = readDeviceCookie(context.cookieHeader(), host.config.cookie, host.config.cookieSigner?.unsign);
    if (sdk.deviceId !== undefined) {
      // Shared with the page's SDK, so idstitch issues no cookie of its own (its own one stays as it is).
      this.#deviceId = sdk.deviceId;
      this.#sdkOwned = true;
      host.counters.identity.fromBrowserSdk++;
    } else if (read.deviceId !== undefined) {
      this.#deviceId = read.deviceId;
      this.#link = read.link;
      if (read.link === undefined && host.config.linkTag !== undefined) {
        // Linked in an earlier response that could not carry the cookie: recorded now.
        this.#link = host.links.recall(read.deviceId);
        if (this.#link !== undefined) this.#writeCookieLater();
      }
    } else {
      // Missing or malformed: a new id, and the bad value is never echoed, sent or trusted.
      if (read.invalid) host.counters.identity.invalidCookies++;
      this.#deviceId = newDeviceId();
      this.#fresh = true;
      this.#writeCookieLater();
    }
  }

  /** This request's `$device_id`. */
  get deviceId(): string {
    return this.#deviceId;
  }

  /** This request's `$user_id`, or undefined when anonymous. Reads the app's auth each time. */
  get userId(): string | undefined {
    if (this.#userId !== undefined) return this.#userId;
    if (this.#signedOut || this.#getUserId === undefined) return undefined;
    return this.#resolve();
  }

  #track: ((event: string, properties?: Record<string, unknown>) => void) | undefined;

  /** Tracks an event with this request's identity. Synchronous; never throws. Bound: it can be passed around. */
  get track(): (event: string, properties?: Record<string, unknown>) => void {
    return (this.#track ??= (event, properties) => this.#trackEvent(event, properties));
  }

  #trackEvent(event: string, properties?: Record<string, unknown>): void {
    if (this.#optedOut) {
      this.#host.counters.dropped.opted_out++;
      return;
    }
    const userId = this.userId;
    if (userId !== undefined && userId !== this.#guarded) this.#guard(userId);
    const userIdProperty = this.#host.config.userIdProperty;
    const withRequest = this.#registered !== undefined || (userIdProperty !== undefined && userId !== undefined) ? this.#requestProperties(properties, userId) : properties;
    this.#host.emit(event, withRequest, { deviceId: this.#deviceId, userId }, this.#contextProperties());
  }

  /**
   * Super properties for the rest of this request (`req.register(props)`): under each event's own
   * properties, over the tracker's `superProperties`. Later calls add to earlier ones.
   */
  get register(): (properties: Record<string, unknown>) => void {
    return (this.#register ??= (properties) => {
      if (properties === null || typeof properties !== 'object' || Array.isArray(properties)) {
        this.#host.reporter.report(new InvalidEventError('IDSTITCH_INVALID_PROPERTIES', 'register(properties) takes a plain object', undefined));
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
    let id: string | undefined;
    if (userId === undefined) {
      this.#signedOut = false;
      id = this.userId;
      if (id === undefined) {
        this.#host.reporter.report(
          new UserIdError('IDSTITCH_INVALID_USER_ID', 'identifyUser(req) found no user id: pass it as identifyUser(req, id), or make getUserId(req) return it after login'),
        );
        return undefined;
      }
    } else {
      const normalized = normalizeUserId(userId);
      if (normalized === undefined || normalized instanceof UserIdError) {
        this.#host.counters.identity.invalidUserIds++;
        this.#host.reporter.report(normalized ?? new UserIdError('IDSTITCH_INVALID_USER_ID', 'identifyUser(req, id) was given no id'));
        return undefined;
      }
      id = normalized;
    }
    this.#userId = id;
    this.#signedOut = false;
    if (this.#optedOut) {
      // The rest of the request still sees the user; nothing is linked, sent or written.
      this.#host.counters.dropped.opted_out++;
      return id;
    }
    if (id !== this.#guarded) this.#guard(id);
    const userIdProperty = this.#host.config.userIdProperty;
    this.#host.emit(this.#host.config.identifyEvent, this.#registered !== undefined || userIdProperty !== undefined ? this.#requestProperties(undefined, id) : undefined, { deviceId: this.#deviceId, userId: id }, this.#contextProperties());
    if (userIdProperty !== undefined) this.#host.profile(id, ['set', { [userIdProperty]: id }]);
    this.#release(id);
    return id;
  }

  /**
   * Logout: a new device id for the rest of the request and its response (Mixpanel's
   * `.reset()`), and no user id, so the next person on this browser starts a fresh identity.
   */
  reset(): void {
    if (this.#sdkOwned) {
      // The SDK's cookie is the page's to rotate (mixpanel.reset()): rewriting another library's
      // state is unsafe. This request goes on with an id of its own, which idstitch's cookie keeps.
      this.#sdkOwned = false;
      this.#host.counters.identity.browserSdkResets++;
    }
    this.#deviceId = newDeviceId();
    this.#userId = undefined;
    this.#signedOut = true;
    this.#link = undefined;
    this.#guarded = undefined;
    this.#heldProfiles()?.drop(); // made under the old device id: never anyone else's
    if (this.#optedOut) return; // nothing is written: the browser keeps whatever cookie it has (README, Privacy)
    this.#host.counters.identity.rotated++;
    if (this.#context.readOnly === true) {
      this.#host.counters.identity.unwritable++;
      this.#host.reporter.report(
        new IdstitchError('IDSTITCH_COOKIE_READ_ONLY', 'resetUser ran where cookies cannot be set (a Server Component): the browser keeps its old device id. Call it in a Server Action or Route Handler'),
      );
      return;
    }
    if (this.#context.headersSent()) {
      this.#host.counters.identity.cookieAfterHeadersSent++;
      this.#host.reporter.report(
        new IdstitchError('IDSTITCH_HEADERS_SENT', 'resetUser(req) ran after the response headers were sent: the browser keeps its old device id. Call it before sending or streaming the response'),
      );
      return;
    }
    this.#writeCookieLater();
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
        this.#host.reporter.report(new IdstitchError('IDSTITCH_INTERNAL', `could not read the request's properties: ${(error as Error)?.message}`, { cause: error }));
      }
    }
    return this.#fromRequest ?? undefined;
  }

  #resolve(): string | undefined {
    let raw: unknown;
    try {
      raw = this.#getUserId!(this.#req as never);
    } catch (error) {
      this.#host.counters.identity.userIdResolverErrors++;
      this.#host.reporter.report(new UserIdError('IDSTITCH_GET_USER_ID_FAILED', `getUserId threw (${(error as Error)?.message ?? String(error)}); the request is treated as anonymous`, { cause: error }));
      return undefined;
    }
    if (raw === this.#lastRaw) return this.#lastResolved; // same value: same answer, reported once per request
    this.#lastRaw = raw;
    if (raw !== null && typeof raw === 'object' && typeof (raw as { then?: unknown }).then === 'function') {
      (raw as Promise<unknown>).then(undefined, () => {}); // ours to silence: it must not become an unhandled rejection
      this.#host.counters.identity.userIdResolverErrors++;
      this.#host.reporter.report(
        new UserIdError('IDSTITCH_GET_USER_ID_FAILED', 'getUserId returned a promise; it must return the id synchronously here (or pass the id to identifyUser(req, id))'),
      );
      return (this.#lastResolved = undefined);
    }
    const normalized = normalizeUserId(raw);
    if (normalized instanceof UserIdError) {
      this.#host.counters.identity.invalidUserIds++;
      this.#host.reporter.report(normalized);
      return (this.#lastResolved = undefined);
    }
    return (this.#lastResolved = normalized);
  }

  /**
   * The guard against a user switch without logout: the first user seen with this device id is
   * remembered in the cookie (as a keyed tag); a different one gets a new device id first, so the
   * new user's events never ride a device Mixpanel already linked to someone else (first link wins).
   */
  #guard(userId: string): void {
    this.#guarded = userId;
    if (this.#sdkOwned) return; // a new id here would last one request: the next one brings the SDK's again
    const tagOf = this.#host.config.linkTag;
    if (tagOf === undefined) return;
    const tag = tagOf(userId);
    if (this.#link === tag) return;
    if (this.#link !== undefined) {
      this.#deviceId = newDeviceId();
      this.#host.counters.identity.switched++;
      this.#heldProfiles()?.drop(); // held for the previous user's device: not this user's
    }
    this.#link = tag;
    const unwritable = this.#writeCookieLater();
    if (unwritable !== undefined) this.#linkNotRecorded(tag, unwritable);
  }

  /**
   * The device is linked (its event is on its way) but this response cannot carry the cookie that
   * records it. The tracker keeps the link for the browser's next request, so the guard still
   * knows it there; reported, since a restart or another instance would not.
   */
  #linkNotRecorded(tag: string, why: 'read-only' | 'headers-sent'): void {
    const host = this.#host;
    host.counters.identity.linksNotRecorded++;
    if (!host.links.remember(this.#deviceId, tag)) host.counters.identity.linksForgotten++;
    host.reporter.report(
      why === 'headers-sent'
        ? new IdstitchError('IDSTITCH_HEADERS_SENT', 'a user was linked to this browser after the response headers were sent, so its cookie cannot record the link; this process remembers it for the next request. Call identifyUser(req) before sending or streaming the response')
        : new IdstitchError('IDSTITCH_COOKIE_READ_ONLY', 'a user was linked to this browser where cookies cannot be set (a Server Component); this process remembers it for the next request. Identify in a Server Action or Route Handler'),
    );
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
    if (this.#optedOut) {
      this.#host.counters.profiles.dropped.opted_out++;
      return;
    }
    try {
      const update = checkProfileUpdate(operation, value);
      const userId = this.userId;
      if (userId !== undefined) {
        if (userId !== this.#guarded) this.#guard(userId); // a switch drops what the previous user's device held
        this.#release(userId); // earlier held updates first, so the order holds
        this.#host.profile(userId, update);
        return;
      }
      this.#hold(update);
    } catch (error) {
      if (error instanceof InvalidEventError) {
        this.#host.counters.profiles.dropped.invalid_event++;
        this.#host.reporter.report(error);
      } else {
        this.#host.reporter.report(new IdstitchError('IDSTITCH_INTERNAL', `idstitch could not take a profile update: ${(error as Error)?.message}`, { cause: error }));
      }
    }
  }

  /** An anonymous browser's update waits in its cookie: a `$device:` profile would never reach the user's. */
  #hold(update: ProfileUpdate): void {
    const counters = this.#host.counters.profiles;
    const held = this.#heldProfiles();
    if (held === undefined) {
      counters.notHeld++;
      this.#host.reporter.reportOnce(
        new IdstitchError('IDSTITCH_PROFILE_NEEDS_SECRET', 'profile updates for an anonymous browser are held in a signed cookie until sign-in, which needs cookie.secret (anything else would be forgeable): set it, or update profiles after identifyUser. Updates made anonymously are dropped (stats().profiles.notHeld)'),
      );
      return;
    }
    if (this.#context.readOnly === true || this.#context.headersSent()) {
      counters.notHeld++;
      this.#host.reporter.report(new IdstitchError('IDSTITCH_COOKIE_READ_ONLY', 'a profile update for an anonymous browser must be held in a cookie, and none can be set here (a Server Component, or headers already sent): it was dropped'));
      return;
    }
    if (held.hold(this.#deviceId, update) === 'full') {
      counters.notHeld++;
      if (!this.#heldFullReported) {
        this.#heldFullReported = true;
        this.#host.reporter.report(
          new IdstitchError('IDSTITCH_PROFILE_HELD_FULL', `an anonymous browser holds at most ${MAX_HELD_UPDATES} profile updates in ${MAX_HELD_COOKIE_BYTES} bytes until sign-in; this one was dropped`),
        );
      }
      return;
    }
    counters.held++;
    this.#hook();
  }

  /** Sends what this browser's device held to `userId` (the guard has run: the device is theirs), and clears the cookie. */
  #release(userId: string): void {
    const held = this.#heldProfiles();
    if (held === undefined) return;
    const updates = held.take(this.#deviceId);
    if (updates.length === 0) return;
    for (const update of updates) this.#host.profile(userId, update);
    this.#host.counters.profiles.released += updates.length;
    if (this.#context.readOnly !== true && !this.#context.headersSent()) this.#hook();
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
    this.#context.onHeaders(() => this.#writeCookie());
  }

  /** Asks for the device cookie in this response; says why when it cannot be written. */
  #writeCookieLater(): 'read-only' | 'headers-sent' | undefined {
    if (this.#optedOut) return undefined; // an opted-out request gets no cookie, new or refreshed
    if (this.#context.readOnly === true) {
      // Nowhere to store it: this request tracks under an id the browser never keeps. Counted, not thrown.
      this.#host.counters.identity.unwritable++;
      return 'read-only';
    }
    if (this.#context.headersSent()) {
      // Too late for this response (it streams): the next request sees the old cookie and decides again.
      this.#host.counters.identity.cookieAfterHeadersSent++;
      return 'headers-sent';
    }
    this.#cookiePending = true;
    this.#hook();
    return undefined;
  }

  #writeCookie(): void {
    // A later rotation hooks again: an outer middleware can still reset after this one has written.
    this.#hooked = false;
    const context = this.#context;
    if (this.#held?.pending === true) {
      try {
        this.#held.write(this.#deviceId, context.isSecure());
        context.setResponseHeader('cache-control', privateCacheControl(context.getResponseHeader('cache-control')));
      } catch (error) {
        this.#host.reporter.report(new IdstitchError('IDSTITCH_INTERNAL', `could not write the profile cookie: ${(error as Error)?.message}`, { cause: error }));
      }
    }
    if (!this.#cookiePending) return;
    this.#cookiePending = false;
    try {
      const config = this.#host.config;
      const value = encodeDeviceValue({ deviceId: this.#deviceId, link: this.#link });
      const line = deviceCookie(config.cookie, config.cookieSigner ? config.cookieSigner.sign(value) : value, context.isSecure());
      context.appendSetCookie(line, this.#written);
      this.#written = line;
      if (this.#link !== undefined) this.#host.links.forget(this.#deviceId);
      if (this.#fresh) {
        this.#fresh = false;
        this.#host.counters.identity.issued++;
      }
      // A shared cache must never replay one visitor's new id to others (one device id, many people).
      context.setResponseHeader('cache-control', privateCacheControl(context.getResponseHeader('cache-control')));
    } catch (error) {
      // A context learns only by trying that its place is read-only (Next: a Server Action helper
      // called from a Server Component); it says so with this code, and the id counts as unwritable.
      if (error instanceof IdstitchError && error.code === 'IDSTITCH_COOKIE_READ_ONLY') {
        this.#host.counters.identity.unwritable++;
        this.#host.reporter.report(error);
        return;
      }
      this.#host.reporter.report(new IdstitchError('IDSTITCH_INTERNAL', `could not write the device cookie: ${(error as Error)?.message}`, { cause: error }));
    }
  }
}

import { IdstitchError, UserIdError } from './errors.js';
import { deviceCookie, encodeDeviceValue, newDeviceId, readDeviceCookie } from './identity.js';
import type { Identity } from './event.js';
import type { GetUserId, TrackerConfig } from './options.js';
import type { Reporter } from './report.js';
import type { RequestContext } from './request-context.js';
import type { TrackerStats } from './stats.js';
import { normalizeUserId } from './user.js';

/** What a request scope needs from its tracker. */
export interface ScopeHost {
  readonly config: TrackerConfig;
  readonly counters: TrackerStats;
  readonly reporter: Reporter;
  /** Builds and enqueues; never throws. */
  emit(event: unknown, properties: unknown, identity: Identity): void;
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

  constructor(host: ScopeHost, context: RequestContext, req: unknown, getUserId: GetUserId | undefined) {
    this.#host = host;
    this.#context = context;
    this.#req = req;
    this.#getUserId = getUserId;
    const read = readDeviceCookie(context.cookieHeader(), host.config.cookie, host.config.cookieSigner?.unsign);
    if (read.deviceId !== undefined) {
      this.#deviceId = read.deviceId;
      this.#link = read.link;
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

  /** Tracks an event with this request's identity. Synchronous; never throws. */
  readonly track = (event: string, properties?: Record<string, unknown>): void => {
    const userId = this.userId;
    if (userId !== undefined && userId !== this.#guarded) this.#guard(userId);
    this.#host.emit(event, properties, { deviceId: this.#deviceId, userId });
  };

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
    if (id !== this.#guarded) this.#guard(id);
    this.#host.emit(this.#host.config.identifyEvent, undefined, { deviceId: this.#deviceId, userId: id });
    return id;
  }

  /**
   * Logout: a new device id for the rest of the request and its response (Mixpanel's
   * `.reset()`), and no user id, so the next person on this browser starts a fresh identity.
   */
  reset(): void {
    this.#deviceId = newDeviceId();
    this.#userId = undefined;
    this.#signedOut = true;
    this.#link = undefined;
    this.#guarded = undefined;
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
    const tagOf = this.#host.config.linkTag;
    if (tagOf === undefined) return;
    const tag = tagOf(userId);
    if (this.#link === tag) return;
    if (this.#link !== undefined) {
      this.#deviceId = newDeviceId();
      this.#host.counters.identity.switched++;
    }
    this.#link = tag;
    this.#writeCookieLater();
  }

  #writeCookieLater(): void {
    if (this.#context.readOnly === true) {
      // Nowhere to store it: this request tracks under an id the browser never keeps. Counted, not thrown.
      this.#host.counters.identity.unwritable++;
      return;
    }
    if (this.#context.headersSent()) {
      // Too late for this response (it streams): the next request sees the old cookie and decides again.
      this.#host.counters.identity.cookieAfterHeadersSent++;
      return;
    }
    this.#cookiePending = true;
    if (this.#hooked) return;
    this.#hooked = true;
    this.#context.onHeaders(this.#writeCookie);
  }

  readonly #writeCookie = (): void => {
    // A later rotation hooks again: Koa's outer middleware can still reset after ours has written.
    this.#hooked = false;
    if (!this.#cookiePending) return;
    this.#cookiePending = false;
    try {
      const context = this.#context;
      const config = this.#host.config;
      const value = encodeDeviceValue({ deviceId: this.#deviceId, link: this.#link });
      const line = deviceCookie(config.cookie, config.cookieSigner ? config.cookieSigner.sign(value) : value, context.isSecure());
      context.appendSetCookie(line, this.#written);
      this.#written = line;
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
  };
}

/** Makes a response private to one browser while keeping the app's other cache directives. */
export function privateCacheControl(existing: string | undefined): string {
  if (!existing || existing.trim() === '') return 'private';
  if (/(^|,)\s*(private|no-store)\s*(,|$)/i.test(existing)) return existing;
  const kept = existing
    .split(',')
    .map((directive) => directive.trim())
    .filter((directive) => directive !== '' && !/^(public|s-maxage\s*=.*)$/i.test(directive));
  return ['private', ...kept].join(', ');
}

// One request's user: the id `identifyUser` gave, or else what the app's `getUserId` says now
// (read on each event, so a login earlier in the request is seen), until `resetUser` signs out.
import { UserIdError } from './errors.js';
import type { GetUserId } from './options.js';
import type { Reporter } from './report.js';
import type { IdentityCounters } from './stats.js';
import { normalizeUserId, userIdFailure } from './user.js';

export class RequestUser {
  readonly #req: unknown;
  readonly #getUserId: GetUserId | undefined;
  readonly #counters: IdentityCounters;
  readonly #reporter: Reporter;
  /** Set by identifyUser(req, id): wins over getUserId for the rest of the request. */
  #given: string | undefined;
  /** Set by resetUser(req): the app's auth is no longer consulted in this request. */
  #signedOut = false;
  #lastRaw: unknown;
  #lastResolved: string | undefined;

  constructor(req: unknown, getUserId: GetUserId | undefined, counters: IdentityCounters, reporter: Reporter) {
    this.#req = req;
    this.#getUserId = getUserId;
    this.#counters = counters;
    this.#reporter = reporter;
  }

  /** The `$user_id` now, or undefined when anonymous. */
  get id(): string | undefined {
    if (this.#given !== undefined) return this.#given;
    if (this.#signedOut || this.#getUserId === undefined) return undefined;
    return this.#resolve();
  }

  /** The user `identify` links: `userId` when given (checked), else `getUserId`'s; undefined (reported) when there is none. */
  signIn(userId: unknown): string | undefined {
    this.#signedOut = false;
    if (userId === undefined) {
      const id = this.id;
      if (id === undefined) {
        this.#reporter.report(
          new UserIdError(
            'IDSTITCH_INVALID_USER_ID',
            'identifyUser(req) found no user id: pass it as identifyUser(req, id), or make getUserId(req) return it after login',
          ),
        );
      }
      return (this.#given = id);
    }
    const normalized = normalizeUserId(userId);
    if (normalized === undefined || normalized instanceof UserIdError) {
      this.#counters.invalidUserIds++;
      this.#reporter.report(normalized ?? new UserIdError('IDSTITCH_INVALID_USER_ID', 'identifyUser(req, id) was given no id'));
      return undefined;
    }
    return (this.#given = normalized);
  }

  /** Logout: no user for the rest of the request, whatever the app's auth still says. */
  signOut(): void {
    this.#given = undefined;
    this.#signedOut = true;
  }

  /** `getUserId(req)`, checked; each distinct value is judged (and reported) once per request. */
  #resolve(): string | undefined {
    let raw: unknown;
    try {
      raw = this.#getUserId!(this.#req as never);
    } catch (error) {
      this.#counters.userIdResolverErrors++;
      this.#reporter.report(userIdFailure(error));
      return undefined;
    }
    if (raw === this.#lastRaw) return this.#lastResolved;
    this.#lastRaw = raw;
    if (raw !== null && typeof raw === 'object' && typeof (raw as { then?: unknown }).then === 'function') {
      (raw as Promise<unknown>).then(undefined, () => {}); // ours to silence: it must not become an unhandled rejection
      this.#counters.userIdResolverErrors++;
      this.#reporter.report(
        new UserIdError(
          'IDSTITCH_GET_USER_ID_FAILED',
          'getUserId returned a promise; it must return the id synchronously here (or pass the id to identifyUser(req, id))',
        ),
      );
      return (this.#lastResolved = undefined);
    }
    const normalized = normalizeUserId(raw);
    if (normalized instanceof UserIdError) {
      this.#counters.invalidUserIds++;
      this.#reporter.report(normalized);
      return (this.#lastResolved = undefined);
    }
    return (this.#lastResolved = normalized);
  }
}

// Profile updates an anonymous browser made, held in its own signed cookie until it signs in.
// They belong to the device id they were made under: a reset or a user switch gives the browser a
// new id and clears them, so they can only ever reach the first user identified on that device.
import type { NormalizedCookie } from './cookie-config.js';
import { cookieValues } from './identity.js';
import { decodeHeld, encodeHeld, MAX_HELD_COOKIE_BYTES, MAX_HELD_UPDATES, type ProfileUpdate } from './people.js';
import type { RequestContext } from './request-context.js';
import type { Signer } from './signing.js';

/** What became of an update offered to `hold`. */
export type HoldOutcome = 'held' | 'full';

/** One request's view of the held updates: read from the cookie on first need, written at header time. */
export class HeldProfiles {
  readonly #context: RequestContext;
  readonly #cookie: NormalizedCookie;
  readonly #signer: Signer;
  #updates: ProfileUpdate[] | undefined;
  /** The request came with a profile cookie (valid or not), which an empty hold must clear. */
  #cookieSent = false;
  /** A profile cookie went into this response already. */
  #written = false;
  /** The cookie must be (re)written for this response. */
  pending = false;

  constructor(context: RequestContext, cookie: NormalizedCookie, signer: Signer) {
    this.#context = context;
    this.#cookie = cookie;
    this.#signer = signer;
  }

  /** Adds `update` to what `deviceId` holds, unless the cookie would outgrow its bounds. */
  hold(deviceId: string, update: ProfileUpdate): HoldOutcome {
    const updates = this.#load(deviceId);
    if (updates.length >= MAX_HELD_UPDATES || encodeHeld(deviceId, [...updates, update], this.#signer).length > MAX_HELD_COOKIE_BYTES)
      return 'full';
    updates.push(update);
    this.pending = true;
    return 'held';
  }

  /** Hands over (and forgets) what `deviceId` holds, for the user it signs in as. */
  take(deviceId: string): ProfileUpdate[] {
    const updates = this.#load(deviceId);
    if (updates.length === 0) return updates;
    this.#updates = [];
    this.pending = true;
    return updates;
  }

  /** Forgets everything held (a reset, a user switch): the cookie is cleared if the browser has one. */
  drop(): void {
    this.#updates = [];
    this.#cookieSent = this.#profileCookie() !== undefined;
    if (this.#cookieSent || this.#written) this.pending = true;
  }

  /** Writes the cookie for `deviceId`: the held updates, or an expired cookie when there are none. */
  write(deviceId: string, secure: boolean): void {
    this.pending = false;
    const updates = this.#updates ?? [];
    if (updates.length === 0 && !this.#cookieSent && !this.#written) return;
    const name = profileCookieName(this.#cookie);
    const value = updates.length > 0 ? encodeHeld(deviceId, updates, this.#signer) : '';
    const expiring = value === '';
    this.#context.setCookie({
      name,
      value,
      expired: expiring,
      line: `${name}=${value}${expiring ? expired(this.#cookie, secure) : attributes(this.#cookie, secure)}`,
    });
    this.#written = true;
  }

  #load(deviceId: string): ProfileUpdate[] {
    if (this.#updates !== undefined) return this.#updates;
    const value = this.#profileCookie();
    this.#cookieSent = value !== undefined;
    // Forged, edited, malformed or held for another device id: nothing, and cleared when the response can.
    return (this.#updates = (value && decodeHeld(value, this.#signer, deviceId)) || []);
  }

  #profileCookie(): string | undefined {
    const header = this.#context.cookieHeader();
    return header ? cookieValues(header, { prefix: `${profileCookieName(this.#cookie)}=` })[0] : undefined;
  }
}

/** The cookie holding an anonymous browser's profile updates: the device cookie's name plus `_profile`. */
function profileCookieName(cookie: NormalizedCookie): string {
  return `${cookie.name}_profile`;
}

function attributes(cookie: NormalizedCookie, secure: boolean): string {
  return secure ? cookie.attributes.secure : cookie.attributes.insecure;
}

function expired(cookie: NormalizedCookie, secure: boolean): string {
  return secure ? cookie.expired.secure : cookie.expired.insecure;
}

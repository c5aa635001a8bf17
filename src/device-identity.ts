// One request's device: the id from a valid cookie (or mixpanel-browser's, or a new one), the
// user it is linked to as the cookie remembers it, the guard against a second user riding it, and
// the cookie that records all that, written once, at header time.
import { readBrowserSdkCookie } from './browser-sdk-cookie.js';
import { IdstitchError } from './errors.js';
import { deviceCookie, encodeDeviceValue, newDeviceId, readDeviceCookie } from './identity.js';
import type { RequestContext } from './request-context.js';
import type { ScopeHost } from './request-scope.js';

/** Why a cookie cannot go out with this response. */
export type Unwritable = 'read-only' | 'headers-sent';

export class DeviceIdentity {
  readonly #host: ScopeHost;
  readonly #context: RequestContext;
  /** Opted out: no cookie is ever written, new or refreshed. */
  readonly #optedOut: boolean;
  /** Asks for a header-time write of whatever is pending. */
  readonly #hook: () => void;
  #deviceId: string;
  /** The tag of the user this device id is linked to, as the cookie remembers it. */
  #link: string | undefined;
  /** The last user id checked against `#link` in this request: each is checked once. */
  #guarded: string | undefined;
  /** The id is mixpanel-browser's (`deviceIdFrom`): the page's SDK rotates it, never idstitch. */
  #sdkOwned = false;
  /** The request came without a valid cookie: writing one counts as `issued`. */
  #fresh = false;
  /** The cookie must be (re)written for this response. */
  #pending = false;

  constructor(host: ScopeHost, context: RequestContext, optedOut: boolean, hook: () => void) {
    this.#host = host;
    this.#context = context;
    this.#optedOut = optedOut;
    this.#hook = hook;
    const { config, counters } = host;
    const sdk = readBrowserSdkCookie(context.cookieHeader(), config.browserSdkCookie);
    if (sdk.invalid) counters.identity.invalidBrowserSdkCookies++;
    const read = readDeviceCookie(context.cookieHeader(), config.cookie, config.cookieSigner?.unsign);
    if (sdk.deviceId !== undefined) {
      // Shared with the page's SDK, so idstitch issues no cookie of its own (its own one stays as it is).
      this.#deviceId = sdk.deviceId;
      this.#sdkOwned = true;
      counters.identity.fromBrowserSdk++;
    } else if (read.deviceId !== undefined) {
      this.#deviceId = read.deviceId;
      this.#link = read.link;
      if (read.link === undefined && config.linkTag !== undefined) {
        // Linked in an earlier response that could not carry the cookie: recorded now.
        this.#link = host.links.recall(read.deviceId);
        if (this.#link !== undefined) this.requestCookie();
      }
    } else {
      // Missing or malformed: a new id, and the bad value is never echoed, sent or trusted.
      if (read.invalid) counters.identity.invalidCookies++;
      this.#deviceId = newDeviceId();
      this.#fresh = true;
      this.requestCookie();
    }
  }

  get deviceId(): string {
    return this.#deviceId;
  }

  /**
   * The guard against a user switch without logout: the first user seen with this device id is
   * remembered in the cookie (as a keyed tag); a different one gets a new device id first, so the
   * new user's events never ride a device Mixpanel already linked to someone else (first link
   * wins). Returns true when the device id changed.
   */
  guard(userId: string): boolean {
    if (userId === this.#guarded) return false;
    this.#guarded = userId;
    if (this.#sdkOwned) return false; // a new id here would last one request: the next one brings the SDK's again
    const tagOf = this.#host.config.linkTag;
    if (tagOf === undefined) return false;
    const tag = tagOf(userId);
    if (this.#link === tag) return false;
    const switched = this.#link !== undefined;
    if (switched) {
      this.#deviceId = newDeviceId();
      this.#host.counters.identity.switched++;
    }
    this.#link = tag;
    const unwritable = this.requestCookie();
    if (unwritable !== undefined) this.#linkNotRecorded(tag, unwritable);
    return switched;
  }

  /** Logout: a new device id, linked to no one. */
  rotate(): void {
    const { counters, reporter } = this.#host;
    if (this.#sdkOwned) {
      // The SDK's cookie is the page's to rotate (mixpanel.reset()): rewriting another library's
      // state is unsafe. This request goes on with an id of its own, which idstitch's cookie keeps.
      this.#sdkOwned = false;
      counters.identity.browserSdkResets++;
    }
    this.#deviceId = newDeviceId();
    this.#link = undefined;
    this.#guarded = undefined;
    if (this.#optedOut) return; // nothing is written: the browser keeps whatever cookie it has
    counters.identity.rotated++;
    const unwritable = this.requestCookie();
    if (unwritable === 'read-only') {
      reporter.report(
        new IdstitchError(
          'IDSTITCH_COOKIE_READ_ONLY',
          'resetUser ran where cookies cannot be set (a Server Component): the browser keeps its old device id. Call it in a Server Action or Route Handler',
        ),
      );
    } else if (unwritable === 'headers-sent') {
      reporter.report(
        new IdstitchError(
          'IDSTITCH_HEADERS_SENT',
          'resetUser(req) ran after the response headers were sent: the browser keeps its old device id. Call it before sending or streaming the response',
        ),
      );
    }
  }

  /** Asks for the cookie in this response; says why when it cannot be written (and counts it). */
  requestCookie(): Unwritable | undefined {
    if (this.#optedOut) return undefined; // an opted-out request gets no cookie, new or refreshed
    const why = unwritable(this.#context);
    if (why === 'read-only') {
      // Nowhere to store it: this request tracks under an id the browser never keeps. Counted, not thrown.
      this.#host.counters.identity.unwritable++;
      return why;
    }
    if (why === 'headers-sent') {
      // Too late for this response (it streams): the next request sees the old cookie and decides again.
      this.#host.counters.identity.cookieAfterHeadersSent++;
      return why;
    }
    this.#pending = true;
    this.#hook();
    return undefined;
  }

  /** At header time: writes the cookie when one is pending. True when it wrote one. */
  write(): boolean {
    if (!this.#pending) return false;
    this.#pending = false;
    const { config, counters, links } = this.#host;
    const encoded = encodeDeviceValue({ deviceId: this.#deviceId, link: this.#link });
    const value = config.cookieSigner ? config.cookieSigner.sign(encoded) : encoded;
    this.#context.setCookie({
      name: config.cookie.name,
      value,
      expired: false,
      line: deviceCookie(config.cookie, value, this.#context.isSecure()),
    });
    if (this.#link !== undefined) links.forget(this.#deviceId);
    if (this.#fresh) {
      this.#fresh = false;
      counters.identity.issued++;
    }
    return true;
  }

  /**
   * The device is linked (its event is on its way) but this response cannot carry the cookie that
   * records it. The tracker keeps the link for the browser's next request, so the guard still
   * knows it there; reported, since a restart or another instance would not.
   */
  #linkNotRecorded(tag: string, why: Unwritable): void {
    const { counters, links, reporter } = this.#host;
    counters.identity.linksNotRecorded++;
    if (!links.remember(this.#deviceId, tag)) counters.identity.linksForgotten++;
    reporter.report(
      why === 'headers-sent'
        ? new IdstitchError(
            'IDSTITCH_HEADERS_SENT',
            'a user was linked to this browser after the response headers were sent, so its cookie cannot record the link; this process remembers it for the next request. Call identifyUser(req) before sending or streaming the response',
          )
        : new IdstitchError(
            'IDSTITCH_COOKIE_READ_ONLY',
            'a user was linked to this browser where cookies cannot be set (a Server Component); this process remembers it for the next request. Identify in a Server Action or Route Handler',
          ),
    );
  }
}

/** Why nothing can be added to this response, or undefined when it can still take headers. */
export function unwritable(context: RequestContext): Unwritable | undefined {
  if (context.readOnly === true) return 'read-only';
  if (context.headersSent()) return 'headers-sent';
  return undefined;
}

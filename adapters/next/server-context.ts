// A Server Component's or Server Action's request, seen through Next's `cookies()` and `headers()`.
import type { NormalizedCookie } from '../../src/cookie-config.js';
import { IdstitchError } from '../../src/errors.js';
import type { OutgoingCookie, RequestContext } from '../../src/request-context.js';
import { clientIpFromForwardedFor } from '../../src/request-properties.js';
import { setThroughStore, type CookieStore } from './cookie-store.js';
import { forwardedProtoIsHttps } from './headers.js';

/**
 * Cookies are written as soon as the core asks (`commit`), since nothing signals when an action's
 * response goes out. Where Next refuses (a Server Component), the write fails with
 * `IDSTITCH_COOKIE_READ_ONLY`, which the core counts instead of throwing.
 */
export class ServerContext implements RequestContext {
  readonly readOnly: boolean;
  readonly #store: CookieStore;
  readonly #headers: Headers;
  readonly #cookie: NormalizedCookie;
  readonly #trustProxy: number;
  readonly #listeners: Array<() => void> = [];

  constructor(store: CookieStore, headerList: Headers, cookie: NormalizedCookie, readOnly: boolean, trustProxy: number) {
    this.#store = store;
    this.#headers = headerList;
    this.#cookie = cookie;
    this.readOnly = readOnly;
    this.#trustProxy = trustProxy;
  }

  header(name: string): string | undefined {
    return this.#headers.get(name) ?? undefined;
  }

  /** Next tells Server Components and Actions nothing about the URL (an action's Referer is the page it runs on). */
  requestUrl(): string | undefined {
    return undefined;
  }

  clientIp(): string | undefined {
    return clientIpFromForwardedFor(this.#headers.get('x-forwarded-for'), this.#trustProxy);
  }

  /**
   * Rebuilt from Next's cookie store rather than the raw header: the store also holds the device id
   * the proxy issued for this very request. Every cookie is included (the profile cookie, a browser
   * SDK's), not just the device id.
   */
  cookieHeader(): string | undefined {
    const all = this.#store.getAll();
    return all.length === 0 ? undefined : all.map((cookie) => `${cookie.name}=${cookie.value}`).join('; ');
  }

  isSecure(): boolean {
    return forwardedProtoIsHttps(this.#headers.get('x-forwarded-proto'));
  }

  headersSent(): boolean {
    return false;
  }

  onHeaders(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** Runs after each change, writing at once what the core asked for. */
  readonly commit = (): void => {
    for (const listener of this.#listeners.splice(0)) listener();
  };

  setCookie(cookie: OutgoingCookie): void {
    try {
      setThroughStore(this.#store, this.#cookie, cookie, this.isSecure());
    } catch (error) {
      throw new IdstitchError(
        'IDSTITCH_COOKIE_READ_ONLY',
        `Next refused to set the ${cookie.name} cookie (${(error as Error)?.message ?? String(error)}): use actionTracking() only in Server Actions, getTracking() in Server Components`,
        { cause: error },
      );
    }
  }

  getResponseHeader(): string | undefined {
    return undefined;
  }

  setResponseHeader(): void {
    // A Server Action answers a POST, which no shared cache stores: nothing to mark private.
  }
}

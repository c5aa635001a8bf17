// A Route Handler's request and the Response it returns, as the core's request context.
import { cookies } from 'next/headers.js';
import type { NormalizedCookie } from '../../src/cookie-config.js';
import { IdstitchError } from '../../src/errors.js';
import type { OutgoingCookie, RequestContext } from '../../src/request-context.js';
import { clientIpFromForwardedFor } from '../../src/request-properties.js';
import { setThroughStore, type CookieStore } from './cookie-store.js';
import { editHeaders, forwardedProtoIsHttps } from './headers.js';

/**
 * The core asks for its cookies while the handler runs; they are written once the response exists
 * (`finish`), on a copy if Fetch made that response's headers immutable.
 */
export class RouteContext implements RequestContext {
  readonly #request: Request;
  readonly #cookie: NormalizedCookie;
  readonly #trustProxy: number;
  readonly #listeners: Array<() => void> = [];
  #response: Response | undefined;
  /** Set when the handler threw: cookies then go through Next's cookies(). */
  #store: CookieStore | undefined;
  #sent = false;

  constructor(request: Request, cookie: NormalizedCookie, trustProxy: number) {
    this.#request = request;
    this.#cookie = cookie;
    this.#trustProxy = trustProxy;
  }

  cookieHeader(): string | undefined {
    return this.#request.headers.get('cookie') ?? undefined;
  }

  header(name: string): string | undefined {
    return this.#request.headers.get(name) ?? undefined;
  }

  requestUrl(): string | undefined {
    return this.#request.url;
  }

  /** A Route Handler has no socket: the address comes from X-Forwarded-For behind `trustProxy` proxies, or not at all. */
  clientIp(): string | undefined {
    return clientIpFromForwardedFor(this.#request.headers.get('x-forwarded-for'), this.#trustProxy);
  }

  isSecure(): boolean {
    return new URL(this.#request.url).protocol === 'https:' || forwardedProtoIsHttps(this.#request.headers.get('x-forwarded-proto'));
  }

  headersSent(): boolean {
    return this.#sent;
  }

  onHeaders(listener: () => void): void {
    this.#listeners.push(listener);
  }

  setCookie(cookie: OutgoingCookie): void {
    if (this.#store) setThroughStore(this.#store, this.#cookie, cookie, this.isSecure());
    else this.#edit((headers) => headers.append('set-cookie', cookie.line));
  }

  getResponseHeader(name: string): string | undefined {
    return this.#response?.headers.get(name) ?? undefined;
  }

  setResponseHeader(name: string, value: string): void {
    // With the store (a thrown redirect), Next builds the response and sets its own caching.
    if (this.#response) this.#edit((headers) => headers.set(name, value));
  }

  /** Writes what is pending to the handler's response and returns it, or the copy that carries it. */
  finish(response: Response): Response {
    if (!(response instanceof Response)) return response; // Next reports a handler that returned no Response
    this.#response = response;
    this.#writeHeaders();
    return this.#response;
  }

  /**
   * The handler threw (Next's redirect() and notFound() do): Next builds that response and adds the
   * cookies set through cookies(), so pending cookies go there.
   */
  async failed(): Promise<void> {
    if (this.#listeners.length === 0) return;
    try {
      this.#store = await cookies();
    } catch {
      this.#sent = true; // not inside a Next request: there is no response left to carry them
      return;
    }
    this.#writeHeaders();
  }

  #writeHeaders(): void {
    if (this.#sent) return;
    for (const listener of this.#listeners) listener();
    this.#sent = true;
  }

  #edit(change: (headers: Headers) => void): void {
    if (!this.#response) throw new IdstitchError('IDSTITCH_INTERNAL', 'no response to write the cookie to');
    this.#response = editHeaders(this.#response, change);
  }
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { onHeaders } from './on-headers.js';

/**
 * The adapter contract: what the core needs from a request and its response, and nothing else.
 * Express, Koa and Next adapters each implement it in a few lines; the core never sees a
 * framework object except to hand it to the app's own `getUserId`.
 */
export interface RequestContext {
  /** The raw `Cookie` request header, if any. */
  cookieHeader(): string | undefined;
  /** A request header by its lower-case name (`sec-gpc`, `user-agent`, `referer`), or undefined. */
  header(name: string): string | undefined;
  /**
   * The absolute URL the client asked for, as the framework reconstructs it (scheme and host as
   * its proxy trust decides), or undefined where it is not known (a Next.js Server Component).
   */
  requestUrl(): string | undefined;
  /**
   * The client's address as the framework's proxy trust decides (Express `req.ip`, Koa `ctx.ip`),
   * or undefined when it cannot be known without trusting what the client wrote. Checked and
   * normalised by the core before it is sent.
   */
  clientIp(): string | undefined;
  /** Whether the request reached the app over HTTPS, as the framework's proxy trust decides. */
  isSecure(): boolean;
  /** True once the response headers are on their way and can no longer change. */
  headersSent(): boolean;
  /** Runs `listener` once, just before the response headers are written. */
  onHeaders(listener: () => void): void;
  /**
   * Sets one of idstitch's cookies on the response, keeping every other `Set-Cookie` already
   * there. A second call for the same name in one request (a rotation after the first cookie went
   * in) replaces the first, so the response carries one line per cookie.
   */
  setCookie(cookie: OutgoingCookie): void;
  getResponseHeader(name: string): string | undefined;
  setResponseHeader(name: string, value: string): void;
  /**
   * True where no cookie can be set at all (a Next.js Server Component). A request without a
   * valid cookie then tracks under an id the browser never keeps: counted as
   * `identity.unwritable`, never thrown. `onHeaders` is not called on such a context.
   */
  readonly readOnly?: boolean;
}

/** A cookie as idstitch writes it: the whole line for headers, its parts for cookie APIs (Next's `cookies().set`). */
export interface OutgoingCookie {
  readonly name: string;
  /** The value; empty when the cookie is being deleted. */
  readonly value: string;
  /** The `Set-Cookie` line: name, value and attributes. */
  readonly line: string;
  /** True when this deletes the cookie (`Max-Age=0`). */
  readonly expired: boolean;
}

/** How the Express adapter (and bare `node:http`) decide HTTPS: Express's trust-aware `req.secure`, else the socket. */
export type IsSecure = (req: IncomingMessage) => boolean;

export const socketIsSecure: IsSecure = (req) => (req.socket as TLSSocket | undefined)?.encrypted === true;

/** How an adapter over `node:http` finds the client's address and the URL it asked for. */
export interface NodeClient {
  ip(req: IncomingMessage): string | undefined;
  url(req: IncomingMessage, secure: boolean): string | undefined;
}

/** Bare `node:http`: the socket's peer, and the URL from the `Host` header. No proxy header is trusted. */
export const socketClient: NodeClient = {
  ip: (req) => req.socket?.remoteAddress,
  url: (req, secure) => {
    const host = req.headers.host;
    return host ? `${secure ? 'https' : 'http'}://${host}${req.url ?? '/'}` : undefined;
  },
};

/**
 * `RequestContext` over `node:http`'s request and response, which Express and Koa extend. Writing
 * at header time (see `on-headers.ts`) means a device id rotated late in the request still sends
 * exactly one cookie, whichever way the app writes its response.
 */
export class NodeRequestContext implements RequestContext {
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #isSecure: IsSecure;
  readonly #client: NodeClient;

  constructor(req: IncomingMessage, res: ServerResponse, isSecure: IsSecure = socketIsSecure, client: NodeClient = socketClient) {
    this.#req = req;
    this.#res = res;
    this.#isSecure = isSecure;
    this.#client = client;
  }

  /** Read once: `req.headers` is a getter. */
  #headers: IncomingMessage['headers'] | undefined;

  cookieHeader(): string | undefined {
    return (this.#headers ??= this.#req.headers).cookie;
  }

  header(name: string): string | undefined {
    const value = (this.#headers ??= this.#req.headers)[name];
    return Array.isArray(value) ? value.join(', ') : value;
  }

  requestUrl(): string | undefined {
    return this.#client.url(this.#req, this.isSecure());
  }

  clientIp(): string | undefined {
    return this.#client.ip(this.#req);
  }

  isSecure(): boolean {
    return this.#isSecure(this.#req);
  }

  headersSent(): boolean {
    return this.#res.headersSent;
  }

  onHeaders(listener: () => void): void {
    onHeaders(this.#res, listener);
  }

  /** The line this request wrote for each cookie name, which a later write replaces. */
  #written: Map<string, string> | undefined;

  setCookie(cookie: OutgoingCookie): void {
    const res = this.#res;
    const earlier = this.#written?.get(cookie.name);
    (this.#written ??= new Map()).set(cookie.name, cookie.line);
    const previous = res.getHeader('set-cookie');
    if (previous === undefined) {
      res.setHeader('set-cookie', cookie.line);
      return;
    }
    const lines = Array.isArray(previous) ? previous.map(String) : [String(previous)];
    const at = earlier === undefined ? -1 : lines.indexOf(earlier);
    if (at === -1) lines.push(cookie.line);
    else lines[at] = cookie.line;
    res.setHeader('set-cookie', lines);
  }

  getResponseHeader(name: string): string | undefined {
    const value = this.#res.getHeader(name);
    if (value === undefined) return undefined;
    return Array.isArray(value) ? value.join(', ') : String(value);
  }

  setResponseHeader(name: string, value: string): void {
    this.#res.setHeader(name, value);
  }
}

import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { Agent, request } from 'undici';
import type { Attempt } from './retry.js';

const gzip = promisify(gzipCallback);

/** The most of a response body read (bytes); Mixpanel's replies are small, and a hostile one must not fill memory. */
const MAX_RESPONSE_BYTES = 1024 * 1024;
const OPEN = Buffer.from('[');
const CLOSE = Buffer.from(']');

export interface TransportOptions {
  readonly url: URL;
  readonly authorization: string | undefined;
  readonly gzipLevel: number | false;
  readonly timeoutMs: number;
  readonly connections: number;
}

/** A request body ready to send: the exact bytes every attempt reuses. */
export interface Payload {
  readonly body: Buffer;
  readonly gzipped: boolean;
}

/**
 * HTTP delivery over one undici Agent (keep-alive, bounded connections). Knows nothing of retries:
 * `send` makes one attempt and says what happened; it never throws.
 */
export class Transport {
  readonly #options: TransportOptions;
  readonly #agent: Agent;
  readonly #headers: Record<string, string>;

  constructor(options: TransportOptions) {
    this.#options = options;
    this.#agent = new Agent({
      connections: options.connections,
      keepAliveTimeout: 4000,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connect: { timeout: options.timeoutMs },
    });
    this.#headers = {
      'content-type': 'application/json',
      accept: 'application/json',
      'user-agent': 'idstitch',
      ...(options.authorization ? { authorization: options.authorization } : {}),
    };
  }

  /** Brackets a batch's comma-separated events and (by default) gzips them once; retries resend these bytes unchanged. */
  async encode(events: Buffer): Promise<Payload> {
    const raw = Buffer.concat([OPEN, events, CLOSE]);
    if (this.#options.gzipLevel === false) return { body: raw, gzipped: false };
    // Async zlib runs on libuv's thread pool, off the event loop that serves requests.
    return { body: await gzip(raw, { level: this.#options.gzipLevel }), gzipped: true };
  }

  /**
   * One attempt, over within `timeoutMs` in total: connecting, sending and reading the whole answer.
   * undici's own timeouts only bound the gaps between chunks, and a body that trickles a byte at a
   * time would otherwise hold a request slot for hours. `signal` aborts it early (shutdown).
   */
  async send(payload: Payload, signal: AbortSignal): Promise<Attempt> {
    const attempt = new AbortController();
    const timeoutMs = this.#options.timeoutMs;
    const deadline = setTimeout(() => attempt.abort(new Error(`no complete answer within timeoutMs (${timeoutMs} ms)`)), timeoutMs);
    const stop = (): void => attempt.abort(signal.reason);
    signal.addEventListener('abort', stop, { once: true });
    try {
      if (signal.aborted) stop();
      const response = await request(this.#options.url, {
        method: 'POST',
        dispatcher: this.#agent,
        headers: payload.gzipped ? { ...this.#headers, 'content-encoding': 'gzip' } : this.#headers,
        body: payload.body,
        signal: attempt.signal,
      });
      const body = await readCapped(response.body);
      const retryAfter = response.headers['retry-after'];
      return { kind: 'response', status: response.statusCode, body, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter };
    } catch (error) {
      return { kind: 'network', error: error instanceof Error ? error : new Error(String(error)) };
    } finally {
      clearTimeout(deadline);
      signal.removeEventListener('abort', stop);
    }
  }

  /** Closes idle sockets; `force` also aborts requests in flight. */
  async close(force = false): Promise<void> {
    try {
      if (force) await this.#agent.destroy();
      else await this.#agent.close();
    } catch {
      // Closing twice or during teardown is harmless.
    }
  }
}

async function readCapped(body: AsyncIterable<Buffer> & { destroy?: (error?: Error) => void }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_RESPONSE_BYTES) {
      body.destroy?.();
      break;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A fault-injecting HTTP proxy for delivery tests. It sits between a tracker and a real upstream
 * (the local collector) and, request by request, either forwards or breaks something, so a test
 * can count from the collector what got through:
 *
 *   const collector = await startCollector({ port: 0 });
 *   const proxy = await startFaultProxy(collector.url);
 *   proxy.script({ status: 503 }, 'reset');        // the next two requests fail, then forwarding resumes
 *   const tracker = createTracker({ apiHost: proxy.url, token: 't' });
 *
 * Faults are taken in the order requests arrive. `stop()` and `start()` take the endpoint down
 * (connections refused) and bring it back on the same port.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { gunzipSync } from 'node:zlib';

/**
 * What the proxy does with one request:
 * - `'forward'`: passes it to the upstream and relays the answer;
 * - `{ status, retryAfter?, body? }`: answers this itself; the upstream never sees the request;
 * - `'reset'`: reads the first chunk of the body, then destroys the connection (a reset mid-body);
 * - `'hang'`: reads the body and never answers; the upstream never sees it;
 * - `{ afterForward: status | 'hang' | 'reset' }`: the upstream ingests the batch, then the client
 *   gets this instead of the upstream's answer — the lost acknowledgement `$insert_id` exists for;
 * - `{ rewrite }`: forwards the batch as `rewrite` changes it (uncompressed), e.g. to make records invalid;
 * - `{ delayMs }`: waits that long, then forwards (a slow API).
 */
export type Fault =
  | 'forward'
  | 'reset'
  | 'hang'
  | { status: number; retryAfter?: string; body?: unknown }
  | { afterForward: number | 'hang' | 'reset' }
  | { rewrite: (events: unknown[]) => unknown[] }
  | { delayMs: number };

/** A fault, or a function choosing one from the request (its body read and decoded). */
export type Rule = Fault | ((request: ProxiedRequest) => Fault);

export interface ProxiedRequest {
  /** 0-based arrival number. */
  readonly index: number;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  /** `performance.now()` on arrival, in ms. */
  readonly at: number;
  /** Body bytes read (for a `'reset'`, only the part before the reset). */
  received: number;
  /** The events in the body (empty for a `'reset'`, or a body that is not a JSON array). */
  events: unknown[];
  /** What happened: the status the client got, `'reset'` or `'hang'`; undefined while in progress. */
  outcome: number | 'reset' | 'hang' | undefined;
  /** Whether the upstream saw (and so may have ingested) the request. */
  forwarded: boolean;
}

export interface FaultProxy {
  /** Base URL to use as `apiHost`. */
  readonly url: string;
  /** Every request so far, in arrival order. */
  readonly requests: readonly ProxiedRequest[];
  /** The next requests get these, in order; later ones the `otherwise` rule. */
  script(...rules: Rule[]): void;
  /** The rule for requests no script entry covers. Default `'forward'`. */
  otherwise(rule: Rule): void;
  /** Resolves once `count` requests have arrived; rejects after `timeoutMs` saying what it saw. */
  waitForRequests(count: number, timeoutMs?: number): Promise<void>;
  /** Takes the endpoint down: stops listening and drops open connections (clients see ECONNREFUSED). */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** Stops for good. */
  close(): Promise<void>;
}

/** Headers the upstream needs to read the request as the client sent it. */
const FORWARDED_HEADERS = ['authorization', 'content-type', 'content-encoding', 'accept', 'user-agent'];

export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const requests: ProxiedRequest[] = [];
  const script: Rule[] = [];
  let fallback: Rule = 'forward';
  const waiters = new Set<() => void>();
  const timers = new Set<NodeJS.Timeout>();
  const notify = (): void => {
    for (const check of waiters) check();
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy.invalid');
    const record: ProxiedRequest = {
      index: requests.length,
      path: url.pathname,
      headers: req.headers,
      at: performance.now(),
      received: 0,
      events: [],
      outcome: undefined,
      forwarded: false,
    };
    requests.push(record);
    // Chosen on arrival, so scripted faults meet requests in the order they reach the proxy.
    const rule = script.shift() ?? fallback;
    notify();

    if (rule === 'reset') {
      req.once('data', (chunk: Buffer) => {
        record.received = chunk.length;
        record.outcome = 'reset';
        req.socket.destroy();
      });
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      record.received = raw.length;
      record.events = decodeEvents(raw, req.headers['content-encoding']);
      const fault = typeof rule === 'function' ? rule(record) : rule;
      handle(fault, req, res, url, raw, record).catch((error: unknown) => {
        // A proxy bug must show as a failed request, not hide as a hang.
        record.outcome = 502;
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`fault proxy: ${(error as Error)?.message ?? String(error)}`);
      });
    });
  });

  async function handle(
    fault: Fault,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    raw: Buffer,
    record: ProxiedRequest,
  ): Promise<void> {
    if (fault === 'reset') {
      record.outcome = 'reset';
      req.socket.destroy();
      return;
    }
    if (fault === 'hang') {
      record.outcome = 'hang';
      return;
    }
    if (typeof fault === 'object' && 'status' in fault) {
      const body = JSON.stringify(fault.body ?? { code: fault.status, error: `injected ${fault.status}`, status: 'Injected' });
      reply(
        res,
        record,
        fault.status,
        { 'content-type': 'application/json', ...(fault.retryAfter !== undefined ? { 'retry-after': fault.retryAfter } : {}) },
        body,
      );
      return;
    }
    if (typeof fault === 'object' && 'delayMs' in fault) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          timers.delete(timer);
          resolve();
        }, fault.delayMs);
        timers.add(timer);
      });
      if (req.socket.destroyed) return;
    }
    let body = raw;
    const headers: Record<string, string> = {};
    for (const name of FORWARDED_HEADERS) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    if (typeof fault === 'object' && 'rewrite' in fault) {
      body = Buffer.from(JSON.stringify(fault.rewrite(record.events)));
      delete headers['content-encoding'];
    }
    record.forwarded = true;
    const upstreamResponse = await fetch(upstream + url.pathname + url.search, {
      method: req.method ?? 'POST',
      headers,
      body: req.method === 'GET' ? undefined : body,
    });
    const text = await upstreamResponse.text();
    if (typeof fault === 'object' && 'afterForward' in fault) {
      const then = fault.afterForward;
      if (then === 'reset') {
        record.outcome = 'reset';
        req.socket.destroy();
      } else if (then === 'hang') {
        record.outcome = 'hang';
      } else {
        reply(
          res,
          record,
          then,
          { 'content-type': 'application/json' },
          JSON.stringify({
            code: then,
            error: `injected ${then} after the upstream answered ${upstreamResponse.status}`,
            status: 'Injected',
          }),
        );
      }
      return;
    }
    const relayed: Record<string, string> = { 'content-type': upstreamResponse.headers.get('content-type') ?? 'application/json' };
    const retryAfter = upstreamResponse.headers.get('retry-after');
    if (retryAfter !== null) relayed['retry-after'] = retryAfter;
    reply(res, record, upstreamResponse.status, relayed, text);
  }

  function reply(res: http.ServerResponse, record: ProxiedRequest, status: number, headers: Record<string, string>, body: string): void {
    record.outcome = status;
    res.writeHead(status, headers);
    res.end(body);
  }

  // The tracker's keep-alive sockets must not outlive a stop(): the outage has to be total.
  server.keepAliveTimeout = 5000;
  let port = 0;
  async function listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    port = (server.address() as AddressInfo).port;
  }
  async function stop(): Promise<void> {
    if (!server.listening) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  await listen();
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script: (...rules) => void script.push(...rules),
    otherwise: (rule) => void (fallback = rule),
    waitForRequests: (count, timeoutMs = 10_000) =>
      new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (requests.length < count) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        // Only a failure deadline: arrivals signal success.
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`fault proxy: waited ${timeoutMs} ms for ${count} requests, saw ${requests.length}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    stop,
    start: listen,
    async close() {
      // A delayed request still waiting is dropped with its connection; its timer must not outlive the test.
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await stop();
    },
  };
}

function decodeEvents(raw: Buffer, encoding: string | undefined): unknown[] {
  try {
    const body = encoding === 'gzip' ? gunzipSync(raw) : raw;
    const parsed = JSON.parse(body.toString('utf8')) as unknown;
    return Array.isArray(parsed) ? parsed : [];
  } catch {
    return [];
  }
}

/**
 * A scriptable stand-in for Mixpanel's ingestion API on a real `node:http` server: it records
 * every request and, unless told otherwise, answers like strict `/import`. For example:
 *
 *   const stub = await startIngestStub();
 *   stub.reply({ status: 503 }, 'reset');          // the next two requests fail, then success
 *   const tracker = createTracker({ apiHost: stub.url, token: 't' });
 *   tracker.track('Signed Up');
 *   await stub.waitForEvents(1);
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { gunzipSync } from 'node:zlib';

/** One event as Mixpanel receives it. */
export interface MixpanelEvent {
  event: string;
  properties: Record<string, unknown>;
}

/**
 * How the stub answers one request:
 * - `{ status, body, headers }`: that response (an object body is sent as JSON). Any field left
 *   out takes the default, a strict `/import` (or verbose `/track`) success;
 * - `{ delayMs }`: wait that long first;
 * - `'reset'`: read the first chunk of the body, then destroy the socket;
 * - `'hang'`: read the body and never answer.
 */
export type Reply = { status?: number; body?: unknown; headers?: Record<string, string>; delayMs?: number } | 'reset' | 'hang';

/** A reply, or a function choosing one from the request (body already read and decoded). */
export type Responder = Reply | ((request: RecordedRequest) => Reply);

export interface RecordedRequest {
  readonly method: string;
  /** Path without the query, e.g. `/import`. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: http.IncomingHttpHeaders;
  /** `performance.now()` when the request arrived, in ms. */
  readonly at: number;
  /** Body bytes as received (still gzipped); for a `reset`, only the part read before the reset. */
  raw: Buffer;
  /** Body after gunzip when `content-encoding: gzip`; empty for a `reset`. */
  body: Buffer;
  /** The JSON array in the body; empty when the body was not one. */
  events: MixpanelEvent[];
  /** What the stub did: the status it sent, `'reset'` or `'hang'`; undefined while a delay runs. */
  outcome: number | 'reset' | 'hang' | undefined;
  /** What Mixpanel would have ingested: all events on 2xx, all but the `failed_records` on a 400, else none. */
  accepted: MixpanelEvent[];
}

export interface IngestStub {
  /** Base URL to pass as `apiHost`, e.g. `http://127.0.0.1:50123`. */
  readonly url: string;
  /** Every request so far, in arrival order (recorded once its body is read). */
  readonly requests: readonly RecordedRequest[];
  /** Answers the next requests with these, in order; later requests get the `otherwise` reply. */
  reply(...replies: Responder[]): void;
  /** Answer for requests no `reply` covers. Default: accept. */
  otherwise(reply: Responder): void;
  /** Every event accepted so far, across requests, in arrival order. */
  events(): MixpanelEvent[];
  /** Resolves once `count` requests have been recorded; rejects after `timeoutMs` with what it saw. */
  waitForRequests(count: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  /** Resolves once `count` events have been accepted; rejects after `timeoutMs` with what it saw. */
  waitForEvents(count: number, timeoutMs?: number): Promise<MixpanelEvent[]>;
  /** Closes the server, dropping hanging requests. */
  close(): Promise<void>;
}

/** The events with the first copy of each `$insert_id` kept: what Mixpanel shows after query-time dedupe (contract §4). */
export function uniqueByInsertId(events: readonly MixpanelEvent[]): MixpanelEvent[] {
  const seen = new Set<unknown>();
  return events.filter((event) => {
    const id = event.properties.$insert_id;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** Starts a stand-in for Mixpanel's ingestion API on 127.0.0.1 and a free port. */
export async function startIngestStub(): Promise<IngestStub> {
  const requests: RecordedRequest[] = [];
  const script: Responder[] = [];
  let fallback: Responder = {};
  const timers = new Set<NodeJS.Timeout>();
  const waiters = new Set<() => void>();
  const notify = (): void => {
    for (const check of waiters) check();
  };
  const accepted = (): MixpanelEvent[] => requests.flatMap((request) => request.accepted);

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stub');
    const record: RecordedRequest = {
      method: req.method ?? '',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      at: performance.now(),
      raw: Buffer.alloc(0),
      body: Buffer.alloc(0),
      events: [],
      outcome: undefined,
      accepted: [],
    };
    // Chosen on arrival, so scripted replies go to requests in the order they reach the server.
    const responder = script.shift() ?? fallback;

    if (responder === 'reset') {
      req.once('data', (chunk: Buffer) => {
        record.raw = chunk;
        record.outcome = 'reset';
        requests.push(record);
        req.socket.destroy();
        notify();
      });
      return;
    }

    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      record.raw = Buffer.concat(chunks);
      record.body = req.headers['content-encoding'] === 'gzip' ? gunzipOrEmpty(record.raw) : record.raw;
      record.events = parseEvents(record.body);
      requests.push(record);
      const reply = typeof responder === 'function' ? responder(record) : responder;
      if (reply === 'reset') {
        record.outcome = 'reset';
        req.socket.destroy();
      } else if (reply === 'hang') {
        record.outcome = 'hang';
      } else if (reply.delayMs) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          answer(record, reply, res);
          notify();
        }, reply.delayMs);
        timers.add(timer);
      } else {
        answer(record, reply, res);
      }
      notify();
    });
  });

  function waitFor<T>(what: string, done: () => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = (): void => {
        const result = done();
        if (result === undefined) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(result);
      };
      // Only a failure deadline: success is signalled by the request handler, never polled.
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(
          new Error(
            `ingest stub: waited ${timeoutMs} ms for ${what}; saw ${requests.length} requests, ${accepted().length} accepted events`,
          ),
        );
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  }

  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    reply: (...replies) => void script.push(...replies),
    otherwise: (reply) => void (fallback = reply),
    events: accepted,
    waitForRequests: (count, timeoutMs = 5000) =>
      waitFor(`${count} requests`, () => (requests.length >= count ? [...requests] : undefined), timeoutMs),
    waitForEvents: (count, timeoutMs = 5000) =>
      waitFor(
        `${count} events`,
        () => {
          const events = accepted();
          return events.length >= count ? events : undefined;
        },
        timeoutMs,
      ),
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

/** A corrupt gzip body decodes to nothing (and so to no events) rather than crashing the test run. */
function gunzipOrEmpty(raw: Buffer): Buffer {
  try {
    return gunzipSync(raw);
  } catch {
    return Buffer.alloc(0);
  }
}

function parseEvents(body: Buffer): MixpanelEvent[] {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as unknown;
    return Array.isArray(parsed) ? (parsed as MixpanelEvent[]) : [];
  } catch {
    return [];
  }
}

/** Sends `reply`, filling gaps with what strict `/import` or verbose `/track` and `/engage` answer on success (contract §3). */
function answer(record: RecordedRequest, reply: Exclude<Reply, 'reset' | 'hang'>, res: http.ServerResponse): void {
  const status = reply.status ?? 200;
  // /track and /engage (and /groups) answer verbose {status, error}; strict /import counts what it took.
  const track = /^\/(track|engage|groups)\/?$/.test(record.path);
  let body = reply.body;
  if (body === undefined && status === 200) {
    body = track ? { status: 1, error: null } : { code: 200, num_records_imported: record.events.length, status: 'OK' };
  }
  record.outcome = status;
  record.accepted = acceptedBy(status, body, record.events);
  const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json', ...reply.headers });
  res.end(text);
}

/**
 * A strict 400 still ingests every record it does not list in `failed_records` (contract §3.2);
 * a `/track` 200 with `0` or `{status: 0}` ingests nothing (§3.1).
 */
function acceptedBy(status: number, body: unknown, events: MixpanelEvent[]): MixpanelEvent[] {
  if (status >= 200 && status < 300) {
    const refused = body === '0' || (body as { status?: unknown } | undefined)?.status === 0;
    return refused ? [] : events;
  }
  if (status !== 400) return [];
  const failed = (body as { failed_records?: Array<{ index?: unknown }> } | undefined)?.failed_records;
  if (!Array.isArray(failed)) return [];
  const indices = new Set(failed.map((record) => record?.index));
  return events.filter((_, index) => !indices.has(index));
}

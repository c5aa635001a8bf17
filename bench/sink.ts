// A local stand-in for Mixpanel's `/import?strict=1`, for benchmarks: 127.0.0.1 only, answers with
// the documented strict shapes (mixpanel-contract §3.2), counts what it received, stores nothing.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { gunzipSync } from 'node:zlib';

/** Mixpanel's per-request limit is 10 MB uncompressed (contract §2.1); anything bigger is answered 413. */
const MAX_BODY_BYTES = 10_000_000;
const INSERT_ID = /^[A-Za-z0-9-]{1,36}$/;
const IDENTITY_EVENTS = new Set(['$identify', '$create_alias', '$merge']);

export interface SinkOptions {
  /** Answer every nth `/import` with a 503 and ingest nothing (0: never). Exercises the client's retries. */
  failEvery?: number;
  /** Remember every `$insert_id` to count duplicates (memory: one string per event). Default false. */
  trackInsertIds?: boolean;
}

export interface SinkCounts {
  /** `/import` requests answered, whatever the answer. */
  requests: number;
  /** Requests answered 503 on purpose (`failEvery`). */
  failedOnPurpose: number;
  /** Records imported. */
  events: number;
  /** Records refused as invalid (strict 400). */
  rejected: number;
  /** Records whose `$insert_id` had been imported before (only with `trackInsertIds`). */
  duplicates: number;
  /** Request bodies as they arrived (gzip when the client compressed). */
  bodyBytes: number;
  /** Request bodies after decompression. */
  rawBytes: number;
  /** Bytes read from client sockets: request lines, headers and bodies. */
  socketBytes: number;
  /** Time this thread spent decompressing, parsing and validating, in ms. */
  busyMs: number;
}

export interface Sink {
  /** Base URL to give a tracker as `apiHost`. */
  readonly url: string;
  counts(): SinkCounts;
  /** Zeroes the counters (and forgets insert ids); optionally changes the options. */
  reset(options?: SinkOptions): void;
  close(): Promise<void>;
}

function zero(): SinkCounts {
  return { requests: 0, failedOnPurpose: 0, events: 0, rejected: 0, duplicates: 0, bodyBytes: 0, rawBytes: 0, socketBytes: 0, busyMs: 0 };
}

export async function startSink(initial: SinkOptions = {}): Promise<Sink> {
  let options = { ...initial };
  let counts = zero();
  let insertIds = new Set<string>();
  const sockets = new Set<Socket>();
  /** bytesRead of sockets already closed, and of open ones at the last reset (subtracted). */
  let closedBytes = 0;
  const baseline = new WeakMap<Socket, number>();

  const server = http.createServer((req, res) => {
    const answer = (status: number, body: unknown): void => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (req.method !== 'POST' || !req.url?.startsWith('/import')) {
      answer(404, { error: 'not found', status: 0 });
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => {
      counts.requests++;
      counts.bodyBytes += size;
      if (tooLarge) return answer(413, { code: 413, error: `request exceeds max limit of ${MAX_BODY_BYTES} bytes`, status: 'Request Entity Too Large' });
      if (!req.headers.authorization?.startsWith('Basic ')) {
        return answer(401, { code: 401, error: 'Invalid credentials', status: 'Unauthorized' });
      }
      if (options.failEvery && counts.requests % options.failEvery === 0) {
        counts.failedOnPurpose++;
        return answer(503, { code: 503, error: 'service unavailable (failing on purpose)', status: 'Service Unavailable' });
      }
      const started = performance.now();
      try {
        let body = Buffer.concat(chunks, size);
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body, { maxOutputLength: MAX_BODY_BYTES });
        counts.rawBytes += body.length;
        const records = JSON.parse(body.toString('utf8')) as unknown;
        if (!Array.isArray(records)) return answer(400, { code: 400, error: 'request body must be a JSON array', status: 'Bad Request' });
        const failed: Array<{ index: number; $insert_id: string | undefined; field: string; message: string }> = [];
        for (let index = 0; index < records.length; index++) {
          const problem = checkRecord(records[index]);
          const insertId = (records[index] as { properties?: { $insert_id?: unknown } } | null)?.properties?.$insert_id;
          if (problem) {
            failed.push({ index, $insert_id: typeof insertId === 'string' ? insertId : undefined, field: problem.field, message: problem.message });
            continue;
          }
          if (options.trackInsertIds) {
            if (insertIds.has(insertId as string)) counts.duplicates++;
            else insertIds.add(insertId as string);
          }
        }
        const imported = records.length - failed.length;
        counts.events += imported;
        counts.rejected += failed.length;
        if (failed.length > 0) {
          return answer(400, { code: 400, error: 'some data points in the request failed validation', failed_records: failed, num_records_imported: imported, status: 'Bad Request' });
        }
        answer(200, { code: 200, num_records_imported: imported, status: 'OK' });
      } catch (error) {
        answer(400, { code: 400, error: `unreadable body: ${(error as Error).message}`, status: 'Bad Request' });
      } finally {
        counts.busyMs += performance.now() - started;
      }
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      closedBytes += socket.bytesRead - (baseline.get(socket) ?? 0);
    });
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    counts() {
      let open = 0;
      for (const socket of sockets) open += socket.bytesRead - (baseline.get(socket) ?? 0);
      return { ...counts, socketBytes: closedBytes + open };
    },
    reset(next) {
      if (next) options = { ...next };
      counts = zero();
      insertIds = new Set();
      closedBytes = 0;
      for (const socket of sockets) baseline.set(socket, socket.bytesRead);
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** What strict `/import` checks per record on a Simplified ID Merge project (contract §3.2, §5.4). */
function checkRecord(record: unknown): { field: string; message: string } | undefined {
  if (record === null || typeof record !== 'object') return { field: 'event', message: 'record must be an object' };
  const { event, properties } = record as { event?: unknown; properties?: unknown };
  if (typeof event !== 'string' || event.trim() === '') return { field: 'event', message: "'event' must not be missing or blank" };
  if (IDENTITY_EVENTS.has(event)) return { field: 'event', message: 'identity events are not allowed when project is using simplified identity management' };
  if (properties === null || typeof properties !== 'object') return { field: 'properties', message: "'properties' must be an object" };
  const p = properties as Record<string, unknown>;
  if (typeof p.time !== 'number' || !Number.isFinite(p.time) || p.time <= 0) return { field: 'properties.time', message: "'properties.time' is invalid: must not be missing" };
  if (typeof p.$insert_id !== 'string' || !INSERT_ID.test(p.$insert_id)) return { field: 'properties.$insert_id', message: "'properties.$insert_id' is invalid" };
  const hasId = (value: unknown): boolean => typeof value === 'string' && value !== '';
  if (!hasId(p.distinct_id) && !hasId(p.$device_id) && !hasId(p.$user_id)) {
    return { field: 'properties.distinct_id', message: "'properties.distinct_id' is invalid: must not be missing" };
  }
  return undefined;
}

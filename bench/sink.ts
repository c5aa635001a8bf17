// A local stand-in for the ingestion APIs of every client the benchmarks compare (bench/sink-routes.ts):
// 127.0.0.1 only, answers each client the way its real API does, counts what it received per route,
// stores nothing. "Events at the sink after drain" in every benchmark are these counts.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { gunzipSync } from 'node:zlib';
import {
  answer,
  countImport,
  precheck,
  routeOf,
  ROUTES,
  unavailable,
  unreadable,
  type RouteAnswer,
  type RouteName,
} from './sink-routes.js';

/** Mixpanel's per-request limit is 10 MB uncompressed (contract §2.1); anything bigger is answered 413. */
const MAX_BODY_BYTES = 10_000_000;

export interface SinkOptions {
  /** Answer every nth ingestion request with a 503 and ingest nothing (0: never). Exercises the client's retries. */
  failEvery?: number;
  /** Remember every record's idempotency key ($insert_id, uuid, messageId) to count duplicates. Default false. */
  trackInsertIds?: boolean;
  /**
   * Check every `/import` record as strict `/import` does (default true). False: count and dedupe
   * by the `$insert_id`s in the body alone, for throughput runs where checking would make the sink
   * the bottleneck (the conformance test checks what idstitch sends against Mixpanel's schema).
   */
  checkRecords?: boolean;
}

/** What one route received. */
export interface RouteCounts {
  /** Requests answered, whatever the answer. */
  requests: number;
  /** Records accepted. */
  events: number;
  /** Records refused as invalid, and bodies that could not be read. */
  rejected: number;
  /** Records whose idempotency key had been accepted before (only with `trackInsertIds`). */
  duplicates: number;
  /** Request bodies as they arrived (gzip when the client compressed). */
  bodyBytes: number;
  /** Request bodies after decompression; for a GET, the `data` the query carried. */
  rawBytes: number;
  /** Request line + headers + body as parsed: what the client put on the wire for this route. */
  wireBytes: number;
}

export interface SinkCounts extends RouteCounts {
  /** Requests answered 503 on purpose (`failEvery`). */
  failedOnPurpose: number;
  /** Requests to no known route (answered 404): a client the sink does not understand. */
  unknown: number;
  /** Bytes read from client sockets: request lines, headers and bodies, every route. */
  socketBytes: number;
  /** Time this thread spent decompressing, parsing and validating, in ms. */
  busyMs: number;
  /** When the last record was accepted (epoch ms; 0: none yet): with the client's start, the pipeline's real drain time. */
  lastEventAt: number;
  routes: Record<RouteName, RouteCounts>;
}

export interface Sink {
  /** Base URL to give a client as its host. */
  readonly url: string;
  counts(): SinkCounts;
  /** Zeroes the counters (and forgets insert ids); optionally changes the options. */
  reset(options?: SinkOptions): void;
  close(): Promise<void>;
}

function zeroRoute(): RouteCounts {
  return { requests: 0, events: 0, rejected: 0, duplicates: 0, bodyBytes: 0, rawBytes: 0, wireBytes: 0 };
}

/** Bytes of the request line and header block, rebuilt from what node parsed (exact but for header case folding). */
function headBytes(req: http.IncomingMessage): number {
  let bytes = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n\r\n`.length;
  for (let i = 0; i < req.rawHeaders.length; i += 2) bytes += req.rawHeaders[i]!.length + req.rawHeaders[i + 1]!.length + 4;
  return bytes;
}

export async function startSink(initial: SinkOptions = {}): Promise<Sink> {
  let options = { ...initial };
  let routes = Object.fromEntries(ROUTES.map((route) => [route, zeroRoute()])) as Record<RouteName, RouteCounts>;
  let totals = { requests: 0, failedOnPurpose: 0, unknown: 0, busyMs: 0, lastEventAt: 0 };
  let seenIds = new Set<string>();
  const sockets = new Set<Socket>();
  /** bytesRead of sockets already closed, and of open ones at the last reset (subtracted). */
  let closedBytes = 0;
  const baseline = new WeakMap<Socket, number>();

  const server = http.createServer((req, res) => {
    const send = (reply: Pick<RouteAnswer, 'status' | 'contentType' | 'body'>): void => {
      res.writeHead(reply.status, { 'content-type': reply.contentType, 'content-length': Buffer.byteLength(reply.body) });
      res.end(reply.body);
    };
    const url = new URL(req.url ?? '/', 'http://sink');
    const route = routeOf(req.method ?? '', url.pathname);
    if (route === undefined) {
      totals.unknown++;
      req.resume();
      send({ status: 404, contentType: 'application/json', body: '{"error":"not found","status":0}' });
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
      const counts = routes[route];
      totals.requests++;
      counts.requests++;
      counts.bodyBytes += size;
      counts.wireBytes += headBytes(req) + size;
      if (tooLarge)
        return send({
          status: 413,
          contentType: 'application/json',
          body: JSON.stringify({
            code: 413,
            error: `request exceeds max limit of ${MAX_BODY_BYTES} bytes`,
            status: 'Request Entity Too Large',
          }),
        });
      const refused = precheck(route, req.headers);
      if (refused) return send(refused);
      if (options.failEvery && totals.requests % options.failEvery === 0) {
        totals.failedOnPurpose++;
        return send(unavailable(route));
      }
      const started = performance.now();
      let reply: RouteAnswer;
      try {
        let body = Buffer.concat(chunks, size);
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body, { maxOutputLength: MAX_BODY_BYTES });
        counts.rawBytes += req.method === 'GET' ? (url.searchParams.get('data')?.length ?? 0) : body.length;
        reply =
          route === 'import' && options.checkRecords === false
            ? countImport(body)
            : answer(route, { method: req.method ?? '', url, headers: req.headers, body });
      } catch (error) {
        reply = { ...unreadable(route, (error as Error).message), rejected: 1 };
      }
      counts.events += reply.events;
      if (reply.events > 0) totals.lastEventAt = Date.now();
      counts.rejected += reply.rejected;
      if (options.trackInsertIds) {
        for (const id of reply.ids) {
          if (seenIds.has(id)) counts.duplicates++;
          else seenIds.add(id);
        }
      }
      totals.busyMs += performance.now() - started;
      send(reply);
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
  // mixpanel-node's track_batch() opens one connection per 50 events, all at once.
  server.maxConnections = 20_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, resolve);
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    counts() {
      let open = 0;
      for (const socket of sockets) open += socket.bytesRead - (baseline.get(socket) ?? 0);
      const sum = zeroRoute();
      for (const route of ROUTES) for (const key of Object.keys(sum) as Array<keyof RouteCounts>) sum[key] += routes[route][key];
      return {
        ...sum,
        ...totals,
        socketBytes: closedBytes + open,
        routes: Object.fromEntries(ROUTES.map((route) => [route, { ...routes[route] }])) as Record<RouteName, RouteCounts>,
      };
    },
    reset(next) {
      if (next) options = { ...next };
      routes = Object.fromEntries(ROUTES.map((route) => [route, zeroRoute()])) as Record<RouteName, RouteCounts>;
      totals = { requests: 0, failedOnPurpose: 0, unknown: 0, busyMs: 0, lastEventAt: 0 };
      seenIds = new Set();
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

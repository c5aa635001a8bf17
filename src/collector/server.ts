import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAuthorized } from './auth.js';
import { ingestProfiles } from './engage.js';
import { FaultPlan, normalizeFaults, type FaultSpec, type NormalizedFault } from './faults.js';
import { errorBody, sendJson } from './http.js';
import { ingestEvents, type IngestContext } from './ingest.js';
import { collectorPage, sendPage, unauthorizedPage, wantsHtml } from './page.js';
import { normalizeCollectorOptions, type CollectorConfig, type CollectorOptions, type Endpoint } from './options.js';
import { crossSiteRefusal, ingestionCors, listensOnLoopback } from './origin.js';
import { answerQuery } from './query.js';
import { failure, received, send, type Reply } from './reply.js';
import { CollectorStore } from './store.js';

/** A running collector. */
export interface Collector {
  /** Base URL, e.g. `http://127.0.0.1:7600`; point a tracker's `apiHost` at it. */
  readonly url: string;
  readonly port: number;
  /** The storage, for tests and tools that read it directly. */
  readonly store: CollectorStore;
  readonly config: CollectorConfig;
  /** Queues faults for the next matching ingestion requests (same specs as `POST /_control/faults`). */
  injectFaults(faults: FaultSpec | FaultSpec[]): void;
  clearFaults(): void;
  /** Stops listening, ends open connections and closes the database. Idempotent. */
  close(): Promise<void>;
}

/** Mixpanel's routes, with or without the trailing slash its SDKs use (contract §1.1). */
const INGESTION: Readonly<Record<string, Endpoint>> = { '/import': 'import', '/track': 'track', '/engage': 'engage', '/groups': 'groups' };

/**
 * Starts a local server that speaks Mixpanel's ingestion API and applies Simplified ID Merge.
 *
 * @example
 * const collector = await startCollector({ port: 0 });
 * const tracker = createTracker({ apiHost: collector.url, token: 't' });
 * // … then GET `${collector.url}/api/events?distinct_id=<id>`
 * await collector.close();
 */
export async function startCollector(options: CollectorOptions = {}): Promise<Collector> {
  const config = normalizeCollectorOptions(options);
  const store = new CollectorStore(config.storage, { markConflicts: config.identityFailureReason });
  const faults = new FaultPlan(config.faults);
  const context: IngestContext = { config, store };
  const loopbackOnly = listensOnLoopback(config.host);
  let closed = false;
  /** Known once listening; the page shows it in its getting-started snippet. */
  let baseUrl = '';

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (closed) return;
      config.onError(error instanceof Error ? error : new Error(String(error)));
      if (!response.headersSent) sendJson(response, 500, errorBody(500, 'the collector failed to handle this request'));
      else response.destroy();
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://collector.invalid');
    const path = url.pathname.length > 1 && url.pathname.endsWith('/') ? url.pathname.slice(0, -1) : url.pathname;
    const method = request.method ?? 'GET';
    const endpoint = INGESTION[path];
    if (endpoint) {
      // Browsers (mixpanel-js pointed at the collector) post cross-origin; Mixpanel allows any origin.
      for (const [name, value] of Object.entries(ingestionCors(request.headers.origin))) response.setHeader(name, value);
      if (method === 'OPTIONS') {
        response.writeHead(204, {
          'access-control-allow-methods': 'GET, POST',
          'access-control-allow-headers': 'authorization, content-type, content-encoding',
        });
        response.end();
        return;
      }
      if (method !== 'GET' && method !== 'POST') return send(response, failure(405));
      await ingest(endpoint, request, response, url);
      return;
    }
    // Browsers ask for it on every page they open; an empty answer keeps their consoles quiet.
    if (path === '/favicon.ico') return void response.writeHead(204, { 'cache-control': 'public, max-age=86400' }).end();
    const isRoot = path === '/';
    if (isRoot || path.startsWith('/api/') || path.startsWith('/_control/')) {
      const refusal = crossSiteRefusal(request.headers, loopbackOnly);
      if (refusal !== undefined) return send(response, failure(403, refusal));
      const page = isRoot && wantsHtml(request.headers.accept);
      // With a credential configured, only ingestion is open; a browser gets the Basic prompt.
      if (!isAuthorized(config, request.headers.authorization, null, false)) {
        const challenge = { 'www-authenticate': 'Basic realm="idstitch collector", charset="UTF-8"' };
        if (page) return sendPage(response, 401, unauthorizedPage, challenge);
        return send(response, { ...(failure(401) as Extract<Reply, { kind: 'json' }>), headers: challenge });
      }
      if (path.startsWith('/_control/')) return control(path, method, request, response);
      if (method !== 'GET') return send(response, failure(405));
      if (page) return sendPage(response, 200, (nonce) => collectorPage(store, config, url, baseUrl, nonce));
      if (isRoot) {
        return send(response, {
          kind: 'json',
          status: 200,
          body: {
            name: 'idstitch collector',
            page: '/ (with Accept: text/html)',
            ingestion: Object.keys(INGESTION),
            query: ['/api/identity/:id', '/api/events?distinct_id=', '/api/users', '/api/profiles/:distinct_id', '/api/doctor'],
          },
        });
      }
      return send(response, answerQuery(path, url, store, config));
    }
    send(response, failure(404, `no such endpoint: ${path}`));
  }

  async function ingest(endpoint: Endpoint, request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
    const fault = faults.take(endpoint);
    if (fault && !fault.afterIngest) {
      if (fault.kind === 'delay') {
        await sleep(fault.ms);
        if (closed) return;
      } else {
        if (fault.kind === 'drop') return void request.socket.destroy();
        // Read the body first: answering mid-upload makes clients see a reset instead of the status.
        for await (const _ of request) void _;
        return send(response, faultReply(fault, url));
      }
    }
    const reply =
      endpoint === 'import' || endpoint === 'track'
        ? await ingestEvents(endpoint, request, url, context)
        : await ingestProfiles(endpoint, request, url, context);
    if (fault?.afterIngest) {
      if (fault.kind === 'drop') return void request.socket.destroy();
      return send(response, faultReply(fault, url));
    }
    send(response, reply);
  }

  function faultReply(fault: NormalizedFault, url: URL): Reply {
    if (fault.kind === 'temporary-failure') return received(url.searchParams, false, 'a temporary failure occurred');
    const status = fault.status ?? 500;
    const message = status === 413 ? `request exceeds max limit of ${config.maxRequestBytes} bytes` : undefined;
    const reply = failure(status, message) as Extract<Reply, { kind: 'json' }>;
    return fault.retryAfter !== undefined ? { ...reply, headers: { 'retry-after': fault.retryAfter } } : reply;
  }

  /** `/_control/faults` (GET lists, POST adds, DELETE clears) and `/_control/reset` (POST forgets all data). */
  async function control(path: string, method: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (path === '/_control/faults') {
      if (method === 'GET') return send(response, { kind: 'json', status: 200, body: { faults: faults.list() } });
      if (method === 'DELETE') {
        faults.clear();
        return send(response, { kind: 'json', status: 200, body: { faults: [] } });
      }
      if (method === 'POST') {
        const chunks: Buffer[] = [];
        for await (const chunk of request as AsyncIterable<Buffer>) chunks.push(chunk);
        let specs: unknown;
        try {
          specs = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          if (specs !== null && typeof specs === 'object' && !Array.isArray(specs) && 'faults' in specs)
            specs = (specs as { faults: unknown }).faults;
          faults.add(normalizeFaults(specs));
        } catch (error) {
          return send(response, failure(400, (error as Error).message));
        }
        return send(response, { kind: 'json', status: 200, body: { faults: faults.list() } });
      }
      return send(response, failure(405));
    }
    if (path === '/_control/reset' && method === 'POST') {
      store.reset();
      return send(response, { kind: 'json', status: 200, body: { reset: true } });
    }
    send(response, failure(404, `no such control endpoint: ${path}`));
  }

  // Keep-alive longer than undici's default 4 s client timeout, so the server never closes a socket first.
  server.keepAliveTimeout = 5000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    store.close();
    throw error;
  }
  server.on('error', (error) => config.onError(error));
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  baseUrl = `http://${host}:${port}`;

  let closing: Promise<void> | undefined;
  return {
    url: baseUrl,
    port,
    store,
    config,
    injectFaults: (specs) => faults.add(normalizeFaults(specs)),
    clearFaults: () => faults.clear(),
    close() {
      closing ??= new Promise<void>((resolve) => {
        closed = true;
        server.close(() => {
          store.close();
          resolve();
        });
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

// A local stand-in for Mixpanel's ingestion API, until the real collector exists: it accepts
// `POST /import` (strict, as Mixpanel documents it) and `POST /track`, keeps events in memory, and
// shows at `GET /` what Mixpanel would derive for each one under Simplified ID Merge.
//
//   const recorder = await startRecordingServer({ port: 7600 });
//   tracking({ apiHost: recorder.url, token: 'any' })
//
// Loopback only by default. Bounded: 10 MB per request body (compressed and decompressed), 10,000
// events kept (the oldest go first, and the page says how many).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { html, raw, type SafeHtml } from './html.js';
import { IdMerge, type Cluster, type RecordedEvent } from './recording/id-merge.js';

const gunzipAsync = promisify(gunzip);

/** Mixpanel's per-request limit (mixpanel-contract §2.1), before and after decompression. */
const MAX_BODY_BYTES = 10_000_000;
const INSERT_ID = /^[A-Za-z0-9-]{1,36}$/;
const IDENTITY_EVENTS = new Set(['$identify', '$create_alias', '$merge']);

export interface RecordingServerOptions {
  /** Default 7600; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Events kept in memory. Default 10,000. */
  maxEvents?: number;
}

export interface RecordingServer {
  /** Base URL, e.g. `http://127.0.0.1:7600`: give it to idstitch as `apiHost`. */
  readonly url: string;
  readonly port: number;
  events(): readonly RecordedEvent[];
  /** The distinct_id an event with this derived id resolves to now. */
  resolve(distinctId: string): string;
  clusters(): Cluster[];
  close(): Promise<void>;
}

interface FailedRecord {
  index: number;
  $insert_id: string | undefined;
  field: string;
  message: string;
}

export async function startRecordingServer(options: RecordingServerOptions = {}): Promise<RecordingServer> {
  const store = new IdMerge(options.maxEvents ?? 10_000);
  let duplicates = 0;
  const seenInsertIds = new Set<string>();

  /** Validates like strict /import; stores the valid records; returns the failures. */
  function ingest(endpoint: RecordedEvent['endpoint'], records: unknown[], strict: boolean): { imported: number; failed: FailedRecord[] } {
    const failed: FailedRecord[] = [];
    let imported = 0;
    records.forEach((record, index) => {
      const problem = checkRecord(record, strict);
      const properties = ((record as { properties?: unknown } | null)?.properties ?? {}) as Record<string, unknown>;
      const insertId = typeof properties.$insert_id === 'string' ? properties.$insert_id : undefined;
      if (problem) {
        failed.push({ index, $insert_id: insertId, field: problem.field, message: problem.message });
        return;
      }
      imported++;
      const name = (record as { event: string }).event;
      // Mixpanel de-duplicates retries by $insert_id (with event, time and distinct_id); a repeat is counted, not shown twice.
      const key = insertId === undefined ? undefined : `${name}\u0000${insertId}`;
      if (key !== undefined && seenInsertIds.has(key)) {
        duplicates++;
        return;
      }
      if (key !== undefined) seenInsertIds.add(key);
      store.add(endpoint, name, properties);
    });
    return { imported, failed };
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://recorder.invalid');
    const send = (status: number, type: string, body: string): void => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
      res.end(body);
    };
    const json = (status: number, body: unknown): void => send(status, 'application/json', JSON.stringify(body));

    if (req.method === 'GET' && url.pathname === '/') {
      const live = url.searchParams.get('live') !== '0';
      send(200, 'text/html; charset=utf-8', page(store, duplicates, live).value);
      return;
    }
    if (req.method === 'GET' && url.pathname === '/events.json') {
      json(200, store.events().map((event) => ({ ...event, resolvedDistinctId: store.resolve(event.derivedDistinctId) })));
      return;
    }
    if (req.method === 'GET' && url.pathname === '/clusters.json') {
      json(200, { clusters: store.clusters(), anonymousDevices: store.anonymousDevices() });
      return;
    }
    if (req.method !== 'POST' || (url.pathname !== '/import' && url.pathname !== '/track')) {
      json(404, { error: 'not found: POST /import or /track, GET / for the page', status: 0 });
      req.resume();
      return;
    }

    const endpoint = url.pathname as RecordedEvent['endpoint'];
    readBody(req)
      .then((body) => {
        if (body === 'too-large') return json(413, { code: 413, error: `request exceeds max limit of ${MAX_BODY_BYTES} bytes`, status: 'Request Entity Too Large' });
        if (endpoint === '/import') {
          // /import authenticates with Basic auth (project token or service account); any value is accepted here.
          if (!req.headers.authorization?.startsWith('Basic ')) return json(401, { code: 401, error: 'Invalid credentials', status: 'Unauthorized' });
          const records = parseRecords(body, req.headers['content-type']);
          if (!records) return json(400, { code: 400, error: 'body must be a JSON array of events (or NDJSON)', status: 'Bad Request' });
          const strict = url.searchParams.get('strict') === '1';
          const { imported, failed } = ingest('/import', records, strict);
          if (!strict) return json(200, { error: null, status: 1 });
          if (failed.length > 0) {
            return json(400, { code: 400, error: 'some data points in the request failed validation', failed_records: failed, num_records_imported: imported, status: 'Bad Request' });
          }
          return json(200, { code: 200, num_records_imported: imported, status: 'OK' });
        }
        // /track: a JSON array, or the SDKs' form body `data=<base64 or JSON>`; the token travels in each event.
        const records = parseTrackBody(body, req.headers['content-type']);
        const verbose = url.searchParams.get('verbose') === '1';
        if (!records) return verbose ? json(200, { error: 'data, missing or empty', status: 0 }) : send(200, 'text/plain', '0');
        const { failed } = ingest('/track', records, false);
        if (failed.length === records.length) return verbose ? json(200, { error: failed[0]!.message, status: 0 }) : send(200, 'text/plain', '0');
        return verbose ? json(200, { error: null, status: 1 }) : send(200, 'text/plain', '1');
      })
      .catch((error: unknown) => json(400, { code: 400, error: `unreadable body: ${(error as Error)?.message ?? String(error)}`, status: 'Bad Request' }));
  });

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 7600, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    events: () => store.events(),
    resolve: (distinctId) => store.resolve(distinctId),
    clusters: () => store.clusters(),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The whole body, decompressed when gzip; 'too-large' past the limit either way. */
async function readBody(req: http.IncomingMessage): Promise<string | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      req.resume();
      return 'too-large';
    }
    chunks.push(chunk);
  }
  let body = Buffer.concat(chunks);
  if (req.headers['content-encoding'] === 'gzip') {
    try {
      body = await gunzipAsync(body, { maxOutputLength: MAX_BODY_BYTES });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return 'too-large';
      throw error;
    }
  }
  return body.toString('utf8');
}

function parseRecords(body: string, contentType: string | undefined): unknown[] | undefined {
  try {
    if (contentType?.includes('ndjson')) return body.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as unknown);
    const parsed = JSON.parse(body) as unknown;
    return Array.isArray(parsed) ? parsed : parsed !== null && typeof parsed === 'object' ? [parsed] : undefined;
  } catch {
    return undefined;
  }
}

function parseTrackBody(body: string, contentType: string | undefined): unknown[] | undefined {
  if (contentType?.includes('application/x-www-form-urlencoded')) {
    const data = new URLSearchParams(body).get('data');
    if (!data) return undefined;
    const text = data.trimStart().startsWith('[') || data.trimStart().startsWith('{') ? data : Buffer.from(data, 'base64').toString('utf8');
    return parseRecords(text, undefined);
  }
  return parseRecords(body, contentType);
}

/** What strict /import refuses per record on a Simplified ID Merge project (mixpanel-contract §3.2, §5.4). */
function checkRecord(record: unknown, strict: boolean): { field: string; message: string } | undefined {
  if (record === null || typeof record !== 'object') return { field: 'event', message: 'each record must be an object' };
  const { event, properties } = record as { event?: unknown; properties?: unknown };
  if (typeof event !== 'string' || event.trim() === '') return { field: 'event', message: "'event' must not be missing or blank" };
  if (IDENTITY_EVENTS.has(event) && strict) return { field: 'event', message: 'identity events are not allowed when project is using simplified identity management' };
  if (properties === null || typeof properties !== 'object' || Array.isArray(properties)) return { field: 'properties', message: "'properties' must be an object" };
  if (!strict) return undefined;
  const p = properties as Record<string, unknown>;
  if (typeof p.time !== 'number' || !Number.isFinite(p.time) || p.time <= 0) return { field: 'properties.time', message: "'properties.time' is invalid: must not be missing" };
  if (typeof p.$insert_id !== 'string' || !INSERT_ID.test(p.$insert_id)) {
    return { field: 'properties.$insert_id', message: "'properties.$insert_id' is invalid: at most 36 characters of [A-Za-z0-9-]" };
  }
  const present = (value: unknown): boolean => (typeof value === 'string' && value !== '') || typeof value === 'number';
  if (!present(p.distinct_id) && !present(p.$device_id) && !present(p.$user_id)) {
    return { field: 'properties.distinct_id', message: "'properties.distinct_id' is invalid: must not be missing" };
  }
  return undefined;
}

function page(store: IdMerge, duplicates: number, live: boolean): SafeHtml {
  const events = [...store.events()].reverse();
  const clusters = store.clusters();
  const anonymous = store.anonymousDevices();
  const short = (id: string | undefined): SafeHtml => (id === undefined ? html`<span class="none">—</span>` : html`<code title="${id}">${id}</code>`);
  const time = (ms: number | undefined): string => (ms === undefined ? '—' : new Date(ms).toISOString().replace('T', ' ').replace('Z', ''));
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${live ? raw('<meta http-equiv="refresh" content="3">') : ''}
<title>Recording server — idstitch example</title>
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem; color: #1d232b; }
  h1 { font-size: 1.3rem; margin: 0 0 .25rem; } h2 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; }
  table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #e3e6ea; vertical-align: top; }
  th { background: #f4f6f8; font-weight: 600; } code { font: 12px ui-monospace, monospace; word-break: break-all; }
  .none { color: #9aa3ad; } .moved { background: #fff7d6; } .conflict { background: #fde2e2; } .muted { color: #5c6670; }
</style>
</head>
<body>
<h1>Recording server</h1>
<p class="muted">Stands in for Mixpanel's ingestion API and shows what Simplified ID Merge derives: an event's
<code>distinct_id</code> is its <code>$user_id</code>, else <code>$device:</code> + <code>$device_id</code>; the first event carrying both ids
links that device to that user (the first link wins), and resolution happens when you read, so earlier events of a linked
device move to the user (highlighted). ${live ? html`Refreshes every 3 s (<a href="/?live=0">stop</a>).` : html`<a href="/">Refresh automatically</a>.`}</p>

<h2>Users and their devices</h2>
${clusters.length === 0
    ? html`<p class="none">No user yet: sign up in the example app.</p>`
    : html`<table id="clusters"><thead><tr><th>user id</th><th>devices linked</th><th>events</th></tr></thead><tbody>
${clusters.map((c) => html`<tr data-user-id="${c.userId}" data-devices="${c.devices.join(' ')}"><td><code>${c.userId}</code></td><td>${c.devices.length ? c.devices.map((d) => html`<code>$device:${d}</code><br>`) : html`<span class="none">none</span>`}</td><td>${c.events}</td></tr>`)}
</tbody></table>`}
${anonymous.length > 0 &&
    html`<h2>Anonymous devices (no user linked yet)</h2><table id="anonymous"><thead><tr><th>device</th><th>events</th></tr></thead><tbody>
${anonymous.map((a) => html`<tr data-device-id="${a.deviceId}"><td><code>$device:${a.deviceId}</code></td><td>${a.events}</td></tr>`)}
</tbody></table>`}

<h2>Events, newest first (${events.length}${store.evicted ? `, ${store.evicted} older ones dropped` : ''}${duplicates ? `, ${duplicates} retried duplicates ignored` : ''})</h2>
<table id="events"><thead><tr><th>time</th><th>event</th><th>$device_id</th><th>$user_id</th><th>derived distinct_id</th><th>resolved distinct_id</th></tr></thead><tbody>
${events.map((e) => {
    const resolved = store.resolve(e.derivedDistinctId);
    const moved = resolved !== e.derivedDistinctId;
    return html`<tr class="${e.linkConflict ? 'conflict' : moved ? 'moved' : ''}" data-event="${e.event}"><td>${time(e.time)}</td><td>${e.event}${e.linkConflict ? html`<br><small>device already linked to another user: link ignored</small>` : ''}</td><td>${short(e.deviceId)}</td><td>${short(e.userId)}</td><td>${short(e.derivedDistinctId || undefined)}</td><td>${short(resolved || undefined)}${moved ? html`<br><small>retroactively</small>` : ''}</td></tr>`;
  })}
</tbody></table>
</body>
</html>`;
}

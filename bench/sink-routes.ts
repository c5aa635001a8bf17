// What the bench sink understands: one ingestion route per client under test, each decoded the way
// that client encodes it and answered with what that client treats as success, so no client retries,
// logs or drops because of the sink. Read from the clients' own code (node_modules), not their docs:
//   import   idstitch          POST /import?strict=1, JSON array, gzip, Basic auth (mixpanel-contract §3.2)
//   track    mixpanel-node     GET /track?ip=0&verbose=0&data=<base64 JSON of one event>, one request per
//                              track(); track_batch() POSTs form-encoded `data=<base64 JSON array>` in
//                              chunks of 50. Success is the body `1` (or {"status":1} with verbose=1).
//   posthog  posthog-node      POST /batch/, gzip JSON {api_key, batch, sent_at}; any 2xx, body ignored
//   segment  analytics-node    POST /v1/batch, plain JSON {batch, writeKey, sentAt}, Basic auth; any 2xx
const INSERT_ID = /^[A-Za-z0-9-]{1,36}$/;
const IDENTITY_EVENTS = new Set(['$identify', '$create_alias', '$merge']);

export const ROUTES = ['import', 'track', 'posthog', 'segment'] as const;
export type RouteName = (typeof ROUTES)[number];

/** The parts of a request a route looks at. */
export interface SinkRequest {
  method: string;
  /** Path and query, as received. */
  url: URL;
  headers: Record<string, string | string[] | undefined>;
  /** Decompressed body (empty for a GET). */
  body: Buffer;
}

export interface RouteAnswer {
  status: number;
  contentType: string;
  body: string;
  /** Records accepted. */
  events: number;
  /** Records refused as invalid (a client bug or a sink bug: either way the run is wrong). */
  rejected: number;
  /** Each accepted record's idempotency key, when the client sends one (for duplicate counting). */
  ids: string[];
}

/** Which route a request is for, or undefined (answered 404). */
export function routeOf(method: string, pathname: string): RouteName | undefined {
  if (method === 'POST' && pathname === '/import') return 'import';
  if ((method === 'GET' || method === 'POST') && pathname === '/track') return 'track';
  if (method === 'POST' && (pathname === '/batch/' || pathname === '/batch')) return 'posthog';
  if (method === 'POST' && pathname === '/v1/batch') return 'segment';
  return undefined;
}

/** Refuses a request before its body is read (auth): the answer, or undefined to go on. */
export function precheck(route: RouteName, headers: SinkRequest['headers']): RouteAnswer | undefined {
  const basic = typeof headers.authorization === 'string' && headers.authorization.startsWith('Basic ');
  if ((route === 'import' || route === 'segment') && !basic) {
    return json(401, { code: 401, error: 'Invalid credentials', status: 'Unauthorized' }, 0, 0);
  }
  return undefined;
}

export function answer(route: RouteName, request: SinkRequest): RouteAnswer {
  switch (route) {
    case 'import':
      return answerImport(request.body);
    case 'track':
      return answerTrack(request);
    case 'posthog':
      return answerBatch(
        request.body,
        'batch',
        'uuid',
        (record) => typeof record.event === 'string' && typeof record.distinct_id === 'string' && record.distinct_id !== '',
        { status: 1 },
      );
    case 'segment':
      return answerBatch(
        request.body,
        'batch',
        'messageId',
        (record) => typeof record.type === 'string' && (hasId(record.anonymousId) || hasId(record.userId)),
        { success: true },
      );
  }
}

/** What the route answers when the sink fails a request on purpose (retries are exercised). */
export function unavailable(route: RouteName): RouteAnswer {
  // mixpanel-node has no retries: a 503 is a lost event, which is the point of showing it.
  return route === 'track'
    ? text(503, '0', 0, 0)
    : json(503, { code: 503, error: 'service unavailable (failing on purpose)', status: 'Service Unavailable' }, 0, 0);
}

export function unreadable(route: RouteName, message: string): RouteAnswer {
  return route === 'track'
    ? text(400, '0', 0, 0)
    : json(400, { code: 400, error: `unreadable body: ${message}`, status: 'Bad Request' }, 0, 0);
}

function json(status: number, body: unknown, events: number, rejected: number, ids: string[] = []): RouteAnswer {
  return { status, contentType: 'application/json', body: JSON.stringify(body), events, rejected, ids };
}

function text(status: number, body: string, events: number, rejected: number): RouteAnswer {
  return { status, contentType: 'text/plain', body, events, rejected, ids: [] };
}

function hasId(value: unknown): boolean {
  return typeof value === 'string' && value !== '';
}

const INSERT_ID_KEY = Buffer.from('"$insert_id":"');

/** `/import` without checking records: one event per `"$insert_id":"…"` in the body, as idstitch writes it. */
export function countImport(body: Buffer): RouteAnswer {
  const ids: string[] = [];
  for (let at = body.indexOf(INSERT_ID_KEY); at !== -1; at = body.indexOf(INSERT_ID_KEY, at)) {
    const from = at + INSERT_ID_KEY.length;
    at = body.indexOf(0x22, from); // the closing quote: an $insert_id has no characters JSON escapes
    if (at === -1) break;
    ids.push(body.toString('latin1', from, at));
  }
  return json(200, { code: 200, num_records_imported: ids.length, status: 'OK' }, ids.length, 0, ids);
}

/** Mixpanel strict `/import`: per-record validation, partial success answered 400 with the failed records. */
function answerImport(body: Buffer): RouteAnswer {
  const records = JSON.parse(body.toString('utf8')) as unknown;
  if (!Array.isArray(records)) return json(400, { code: 400, error: 'request body must be a JSON array', status: 'Bad Request' }, 0, 0);
  const failed: Array<{ index: number; $insert_id: string | undefined; field: string; message: string }> = [];
  const ids: string[] = [];
  for (let index = 0; index < records.length; index++) {
    const problem = checkImportRecord(records[index]);
    const insertId = (records[index] as { properties?: { $insert_id?: unknown } } | null)?.properties?.$insert_id;
    if (problem)
      failed.push({
        index,
        $insert_id: typeof insertId === 'string' ? insertId : undefined,
        field: problem.field,
        message: problem.message,
      });
    else ids.push(insertId as string);
  }
  const imported = records.length - failed.length;
  if (failed.length > 0) {
    return json(
      400,
      {
        code: 400,
        error: 'some data points in the request failed validation',
        failed_records: failed,
        num_records_imported: imported,
        status: 'Bad Request',
      },
      imported,
      failed.length,
      ids,
    );
  }
  return json(200, { code: 200, num_records_imported: imported, status: 'OK' }, imported, 0, ids);
}

/** What strict `/import` checks per record on a Simplified ID Merge project (contract §3.2, §5.4). */
function checkImportRecord(record: unknown): { field: string; message: string } | undefined {
  if (record === null || typeof record !== 'object') return { field: 'event', message: 'record must be an object' };
  const { event, properties } = record as { event?: unknown; properties?: unknown };
  if (typeof event !== 'string' || event.trim() === '') return { field: 'event', message: "'event' must not be missing or blank" };
  if (IDENTITY_EVENTS.has(event))
    return { field: 'event', message: 'identity events are not allowed when project is using simplified identity management' };
  if (properties === null || typeof properties !== 'object') return { field: 'properties', message: "'properties' must be an object" };
  const p = properties as Record<string, unknown>;
  if (typeof p.time !== 'number' || !Number.isFinite(p.time) || p.time <= 0)
    return { field: 'properties.time', message: "'properties.time' is invalid: must not be missing" };
  if (typeof p.$insert_id !== 'string' || !INSERT_ID.test(p.$insert_id))
    return { field: 'properties.$insert_id', message: "'properties.$insert_id' is invalid" };
  if (!hasId(p.distinct_id) && !hasId(p.$device_id) && !hasId(p.$user_id)) {
    return { field: 'properties.distinct_id', message: "'properties.distinct_id' is invalid: must not be missing" };
  }
  return undefined;
}

/**
 * Mixpanel `/track` as mixpanel-node calls it. The POST body is `data=<base64>` without URL-encoding
 * (base64's `+` stays a `+`), so it is not parsed as a form: URLSearchParams would turn `+` into a space.
 */
function answerTrack(request: SinkRequest): RouteAnswer {
  const verbose = request.url.searchParams.get('verbose') === '1';
  let data: string | null;
  if (request.method === 'GET') {
    data = request.url.searchParams.get('data');
  } else {
    const form = request.body.toString('latin1');
    const at = form.startsWith('data=') ? 5 : form.indexOf('&data=') + 6;
    const end = form.indexOf('&', at);
    const raw = at < 5 ? null : end === -1 ? form.slice(at) : form.slice(at, end);
    data = raw !== null && raw.includes('%') ? decodeURIComponent(raw) : raw;
  }
  const fail = (): RouteAnswer => (verbose ? json(200, { status: 0, error: 'invalid data' }, 0, 1) : text(200, '0', 0, 1));
  if (!data) return fail();
  const decoded = JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as unknown;
  const records = Array.isArray(decoded) ? decoded : [decoded];
  let events = 0;
  for (const record of records) {
    const { event, properties } = (record ?? {}) as { event?: unknown; properties?: Record<string, unknown> };
    if (typeof event === 'string' && event !== '' && properties && typeof properties.token === 'string') events++;
  }
  if (events !== records.length) return fail();
  return verbose ? json(200, { status: 1, error: null }, events, 0) : text(200, '1', events, 0);
}

/** PostHog's and Segment's batch bodies: an object with an array of records under `key`. */
function answerBatch(
  body: Buffer,
  key: string,
  idKey: string,
  valid: (record: Record<string, unknown>) => boolean,
  ok: unknown,
): RouteAnswer {
  const parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown> | null;
  const records = parsed?.[key];
  if (!Array.isArray(records)) return json(400, { error: `no ${key} array` }, 0, 0);
  let events = 0;
  const ids: string[] = [];
  for (const record of records as Array<Record<string, unknown> | null>) {
    if (record === null || typeof record !== 'object' || !valid(record)) continue;
    events++;
    if (typeof record[idKey] === 'string') ids.push(record[idKey]);
  }
  // Both clients fail the whole batch on a 400 without retrying: a refused record is counted, not refused.
  return json(200, ok, events, records.length - events, ids);
}

import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isAuthorized } from './auth.js';
import { BodyError, decompress, parsePayload, readBody, type Payload } from './body.js';
import type { CollectorConfig } from './options.js';
import { failure, json, received, type Reply } from './reply.js';
import type { CollectorStore, EventRecord } from './store.js';
import { prepareEvent, type Prepared, type ValidationContext } from './validation.js';

/** The reply Mixpanel gives an empty batch (observed, contract §3.1). */
const EMPTY = 'data, missing or empty';

export interface IngestContext {
  readonly config: CollectorConfig;
  readonly store: CollectorStore;
}

/** Reads, decodes and parses a request's records; a `BodyError` comes back as the value, not thrown. */
export async function readPayload(
  request: IncomingMessage,
  url: URL,
  config: CollectorConfig,
  allowGzip: boolean,
): Promise<Payload | BodyError> {
  try {
    const body = await readBody(request, config.maxRequestBytes, !config.authRequired);
    const inflated = await decompress(body, request.headers['content-encoding'], allowGzip, config.maxRequestBytes);
    return parsePayload(inflated, request.headers['content-type'], url.searchParams);
  } catch (error) {
    if (error instanceof BodyError) return error;
    throw error;
  }
}

/**
 * `/import` and `/track` (contract §1.2, §1.3, §3): authenticate, validate each record, store the valid
 * ones in one transaction, and answer in the endpoint's shape. A partly bad batch stores its good records.
 */
export async function ingestEvents(
  endpoint: 'import' | 'track',
  request: IncomingMessage,
  url: URL,
  context: IngestContext,
): Promise<Reply> {
  const { config, store } = context;
  const authorization = request.headers.authorization;
  // Credentials are checked before the body is read: a stranger's upload is never read at all.
  // Only a service account's project_id may still come in a form field (mixpanel-python sends it so).
  if (
    endpoint === 'import' &&
    config.authRequired &&
    !isAuthorized(config, authorization, url.searchParams.get('project_id'), true, url.searchParams.get('api_key'))
  ) {
    if (!isAuthorized(config, authorization, null, false)) return refuseUnread(url.searchParams, config);
  }
  const payload = await readPayload(request, url, config, true);
  const params = payload instanceof BodyError ? url.searchParams : payload.params;
  const strictParam = params.get('strict');
  const strict = endpoint === 'import' && (strictParam === '1' || (strictParam === null && config.strictByDefault));

  if (endpoint === 'import' && !isAuthorized(config, authorization, params.get('project_id'), true, params.get('api_key'))) {
    // Legacy non-strict /import answered success even with wrong credentials, storing nothing (contract §1.3).
    if (!strict && config.legacyImportAuthFailure === 'silent') return received(params, true);
    return failure(401);
  }
  if (payload instanceof BodyError) {
    const reply = strict || payload.status !== 400 ? failure(payload.status, payload.message) : received(params, false, payload.message);
    return payload.unread ? closing(reply) : reply;
  }
  const records = payload.records;
  if (records.length === 0) return strict ? failure(400, EMPTY, { num_records_imported: 0 }) : received(params, false, EMPTY);
  if (records.length > config.maxBatchEvents) {
    const message = `request exceeds max limit of ${config.maxBatchEvents} events`;
    return strict ? failure(400, message, { num_records_imported: 0 }) : received(params, false, message);
  }

  const now = config.clock();
  const validation: ValidationContext = {
    config,
    endpoint,
    strict,
    now,
    // Only a body that could hold one event over the limit needs each event measured.
    checkEventSize: payloadBytes(request) >= config.maxEventBytes,
    ipHash: (endpoint === 'track' && params.get('ip') === '1') || config.missingDistinctId === 'ip-hash' ? ipHash(request) : undefined,
  };
  const outcomes: Prepared[] = records.map((record) => prepareEvent(record, validation));
  const rejectAll = strict && config.identityEventScope === 'batch' && outcomes.some((o) => o.kind === 'fail' && o.identityEvent);
  const toStore: EventRecord[] = [];
  let skipped = 0;
  if (!rejectAll) {
    for (const outcome of outcomes) {
      if (outcome.kind === 'store') toStore.push(outcome.record);
      else if (outcome.kind === 'skip') skipped++;
    }
  }
  const imported = store.ingest(toStore, now) + skipped;

  if (strict) {
    const failed = failedRecords(outcomes, config);
    if (failed.length === 0) return json(200, { code: 200, num_records_imported: imported, status: 'OK' });
    return failure(400, 'some data points in the request failed validation', { failed_records: failed, num_records_imported: imported });
  }
  const firstFailure = outcomes.find((o) => o.kind === 'fail');
  return received(params, imported > 0, imported > 0 ? null : (firstFailure?.message ?? EMPTY));
}

/** 401 (or the legacy silent success) before the body is read; the connection closes after it. */
function refuseUnread(query: URLSearchParams, config: CollectorConfig): Reply {
  const strictParam = query.get('strict');
  const strict = strictParam === '1' || (strictParam === null && config.strictByDefault);
  // Legacy non-strict /import answered success even with wrong credentials, storing nothing (contract §1.3).
  return closing(!strict && config.legacyImportAuthFailure === 'silent' ? received(query, true) : failure(401));
}

/** The request's body was left unread: answered with `Connection: close`, so it is never read. */
export function closing(reply: Reply): Reply {
  return { ...reply, headers: { ...(reply.kind === 'json' ? reply.headers : undefined), connection: 'close' } } as Reply;
}

/** Strict `failed_records` (contract §3.2): one per failed record, `index` = position in the batch. */
function failedRecords(outcomes: readonly Prepared[], config: CollectorConfig): unknown[] {
  const failed: unknown[] = [];
  outcomes.forEach((outcome, index) => {
    if (outcome.kind !== 'fail') return;
    // Identity verbs came back as bare strings in the live probe (contract §5.4).
    if (outcome.identityEvent && config.identityEventFailure === 'string') failed.push(outcome.message);
    else failed.push({ index, [config.failedRecordInsertIdKey]: outcome.insertId ?? '', field: outcome.field, message: outcome.message });
  });
  return failed;
}

function payloadBytes(request: IncomingMessage): number {
  const length = Number(request.headers['content-length']);
  // A gzip or chunked body's size is unknown until inflated: assume it could be large.
  return Number.isFinite(length) && !request.headers['content-encoding'] ? length : Infinity;
}

/** C12: "compute a distinct_id using a hash function" of the request address (contract §5.3). */
function ipHash(request: IncomingMessage): string {
  return createHash('sha256')
    .update(request.socket.remoteAddress ?? '')
    .digest('hex')
    .slice(0, 32);
}

import type { IncomingMessage } from 'node:http';
import { promisify } from 'node:util';
import { gunzip as gunzipCallback } from 'node:zlib';

const gunzip = promisify(gunzipCallback);

/**
 * A request the collector cannot read: `413` when it is larger than the limit, `415` for a compressed
 * body an endpoint does not take, `400` when it is not gzip or not JSON. `code` is stable; messages are for people.
 */
export class BodyError extends Error {
  constructor(
    readonly status: 400 | 413 | 415,
    readonly code: 'COLLECTOR_BODY_TOO_LARGE' | 'COLLECTOR_BAD_ENCODING' | 'COLLECTOR_UNPARSEABLE' | 'COLLECTOR_UNSUPPORTED_ENCODING',
    message: string,
    /** The rest of the body was left unread: the connection must close after the answer. */
    readonly unread = false,
  ) {
    super(message);
    this.name = 'BodyError';
  }
}

/** An NDJSON line that is not JSON: it fails as its own record and the rest of the batch goes on. */
export class UnparseableRecord {
  constructor(readonly line: number) {}
}

/** What a request carries: its parameters (query, plus form fields) and its records, in order. */
export interface Payload {
  readonly params: URLSearchParams;
  /** Empty when the request carried no data at all. */
  readonly records: readonly unknown[];
}

/**
 * Reads the body, at most `maxBytes`; a longer one is refused with 413. By default the rest is
 * drained first, so the client (still sending) gets the answer rather than a reset; with `drain:
 * false` (a collector that requires credentials, exposed to more than its developer) reading stops
 * at the limit and the connection is closed after the answer.
 */
export async function readBody(request: IncomingMessage, maxBytes: number, drain = true): Promise<Buffer> {
  const declared = Number(request.headers['content-length']);
  let tooLarge = Number.isFinite(declared) && declared > maxBytes;
  if (tooLarge && !drain) throw tooLargeError(maxBytes, true);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      tooLarge = true;
      if (!drain) throw tooLargeError(maxBytes, true);
    }
    if (!tooLarge) chunks.push(chunk);
  }
  if (tooLarge) throw tooLargeError(maxBytes);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

/** Undoes `Content-Encoding: gzip` (also recognised by its magic bytes), never inflating past `maxBytes`. */
export async function decompress(body: Buffer, contentEncoding: string | undefined, allowGzip: boolean, maxBytes: number): Promise<Buffer> {
  const encoding = (contentEncoding ?? '').trim().toLowerCase();
  const gzipped = encoding === 'gzip' || encoding === 'x-gzip' || (body.length > 2 && body[0] === 0x1f && body[1] === 0x8b);
  if (encoding !== '' && encoding !== 'identity' && !gzipped) {
    throw new BodyError(415, 'COLLECTOR_UNSUPPORTED_ENCODING', `Content-Encoding ${encoding} is not supported; send gzip or nothing`);
  }
  if (!gzipped) return body;
  if (!allowGzip) throw new BodyError(415, 'COLLECTOR_UNSUPPORTED_ENCODING', 'this endpoint does not accept gzip bodies');
  try {
    // maxOutputLength bounds a decompression bomb; one byte over the limit is enough to know.
    return await gunzip(body, { maxOutputLength: maxBytes + 1 }).then((out) => {
      if (out.length > maxBytes) throw tooLargeError(maxBytes);
      return out;
    });
  } catch (error) {
    if (error instanceof BodyError) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) throw tooLargeError(maxBytes);
    throw new BodyError(400, 'COLLECTOR_BAD_ENCODING', 'the body is marked gzip but does not inflate');
  }
}

function tooLargeError(maxBytes: number, unread = false): BodyError {
  // OpenAPI `StrictTooLarge` wording, with the current limit (contract §3.2).
  return new BodyError(413, 'COLLECTOR_BODY_TOO_LARGE', `request exceeds max limit of ${maxBytes} bytes`, unread);
}

/**
 * Finds the records in any encoding Mixpanel's SDKs and tools use (contract §1.7): a raw JSON array or
 * object, NDJSON, a form with `data=` holding JSON or base64 JSON, or `data` in the query string (GET).
 */
export function parsePayload(body: Buffer, contentType: string | undefined, query: URLSearchParams): Payload {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const text = body.toString('utf8').replace(/^\uFEFF/, '');
  const trimmed = text.trim();
  const params = new URLSearchParams(query);
  if (trimmed === '') return { params, records: parseData(query.get('data') ?? '') };
  if (type === 'application/x-www-form-urlencoded' || (type !== 'application/json' && /^data=/.test(trimmed))) {
    const form = new URLSearchParams(trimmed);
    // mixpanel-python sends verbose and ip as form fields (contract §1.7); they count like query parameters.
    for (const [key, value] of form) if (key !== 'data') params.set(key, value);
    return { params, records: parseData(form.get('data') ?? query.get('data') ?? '') };
  }
  if (type === 'application/x-ndjson' || type === 'application/ndjson' || type === 'application/jsonl') {
    return { params, records: parseLines(trimmed) };
  }
  return { params, records: parseData(trimmed) };
}

/** A `data` value or a raw body: JSON first, then NDJSON (several objects), then base64 JSON. */
function parseData(value: string): readonly unknown[] {
  const text = value.trim();
  if (text === '') return [];
  const first = text[0];
  if (first === '[' || first === '{') {
    const parsed = tryJson(text);
    if (parsed !== undefined) return Array.isArray(parsed) ? parsed : [parsed];
    if (first === '{' && text.includes('\n')) return parseLines(text);
    throw new BodyError(400, 'COLLECTOR_UNPARSEABLE', 'the data is not valid JSON');
  }
  // A form value decoded as application/x-www-form-urlencoded turns an unescaped '+' into ' '.
  const decoded = Buffer.from(text.replace(/ /g, '+'), 'base64').toString('utf8').trim();
  const parsed = decoded.startsWith('[') || decoded.startsWith('{') ? tryJson(decoded) : undefined;
  if (parsed === undefined) throw new BodyError(400, 'COLLECTOR_UNPARSEABLE', 'the data is neither JSON nor base64-encoded JSON');
  return Array.isArray(parsed) ? parsed : [parsed];
}

function parseLines(text: string): unknown[] {
  const records: unknown[] = [];
  let line = 0;
  for (const raw of text.split('\n')) {
    line++;
    const trimmed = raw.trim();
    if (trimmed === '') continue;
    const parsed = tryJson(trimmed);
    records.push(parsed === undefined ? new UnparseableRecord(line) : parsed);
  }
  return records;
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

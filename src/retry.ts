import type { RetryPolicy } from './config.js';

/** What one HTTP attempt produced. */
export type Attempt =
  | { readonly kind: 'response'; readonly status: number; readonly body: string; readonly retryAfter: string | undefined }
  | { readonly kind: 'network'; readonly error: Error };

export interface FailedRecord {
  /** 0-based position in the batch that was sent, when the API gave one. */
  readonly index: number | undefined;
  readonly insertId: string | undefined;
  readonly message: string;
}

/** What to do about an attempt. One pure decision, so the policy reads (and tests) as data. */
export type Verdict =
  | { readonly action: 'delivered' }
  | { readonly action: 'partial'; readonly failed: readonly FailedRecord[]; readonly imported: number | undefined }
  /** `unacknowledged`: a 2xx whose body is not the API's acknowledgement (a wrong `apiHost`, a captive portal). */
  | { readonly action: 'retry'; readonly reason: string; readonly retryAfterMs: number | undefined; readonly unacknowledged?: true }
  | { readonly action: 'split' }
  | { readonly action: 'drop'; readonly reason: 'rejected' | 'unauthorized'; readonly message: string; readonly status: number };

/**
 * Mixpanel says retry 429, 502 and 503 and never 400 (contract §2.4); its own SDKs also retry
 * every 5xx, and request timeouts (408) are transient by definition.
 */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599);
}

/**
 * How the API acknowledges a request: strict `/import`'s `{code, num_records_imported, status}`, or
 * the `{status, error}` of `/track?verbose=1` and `/engage?verbose=1` (contract §3.1–3.3).
 */
export type ResponseFormat = 'import' | 'verbose';

export function classify(attempt: Attempt, format: ResponseFormat, now = Date.now()): Verdict {
  if (attempt.kind === 'network') {
    return { action: 'retry', reason: attempt.error.message || attempt.error.name, retryAfterMs: undefined };
  }
  const { status, body } = attempt;
  if (status >= 200 && status < 300) {
    if (format === 'verbose') return classifyVerboseBody(body, status);
    // Strict /import acknowledges with {code: 200, num_records_imported, status: "OK"} (contract §3.2).
    const parsed = parseJson(body) as { num_records_imported?: unknown } | undefined;
    if (parsed !== null && typeof parsed === 'object' && typeof parsed.num_records_imported === 'number') return { action: 'delivered' };
    return unacknowledged(status, body);
  }
  if (status === 413) return { action: 'split' };
  if (status === 401 || status === 403) {
    return {
      action: 'drop',
      reason: 'unauthorized',
      status,
      message: `${status} from the ingestion API: check the token or service account (${errorText(body)})`,
    };
  }
  if (isRetryableStatus(status)) {
    return { action: 'retry', reason: `HTTP ${status}`, retryAfterMs: parseRetryAfter(attempt.retryAfter, now) };
  }
  if (status === 400) {
    const parsed = parseJson(body) as { failed_records?: unknown; num_records_imported?: unknown } | undefined;
    if (parsed && Array.isArray(parsed.failed_records) && parsed.failed_records.length > 0) {
      const imported = typeof parsed.num_records_imported === 'number' ? parsed.num_records_imported : undefined;
      return { action: 'partial', failed: parsed.failed_records.map(toFailedRecord), imported };
    }
  }
  return { action: 'drop', reason: 'rejected', status, message: `${status} from the ingestion API (${errorText(body)})` };
}

/**
 * `/track?verbose=1` and `/engage?verbose=1` answer 200 with `{status, error}`; without verbose,
 * `1` or `0` (contract §3.1, §3.3). Anything else is not an answer from the API.
 */
function classifyVerboseBody(body: string, status: number): Verdict {
  const trimmed = body.trim();
  if (trimmed === '1') return { action: 'delivered' };
  if (trimmed === '0') return { action: 'drop', reason: 'rejected', status, message: 'the API refused the batch (0)' };
  const parsed = parseJson(trimmed) as { status?: unknown; error?: unknown } | undefined;
  const verdict = parsed !== null && typeof parsed === 'object' ? parsed.status : undefined;
  if (verdict === 1 || verdict === '1') return { action: 'delivered' };
  if (verdict !== 0 && verdict !== '0') return unacknowledged(status, body);
  const message = typeof parsed!.error === 'string' ? parsed!.error : 'no reason given';
  // The one /track failure users report as transient (contract §3.1, U14).
  if (/temporary failure/i.test(message)) return { action: 'retry', reason: message, retryAfterMs: undefined };
  return { action: 'drop', reason: 'rejected', status, message: `the API refused the batch: ${message}` };
}

/** A success status without the API's acknowledgement: nothing says the records arrived, so they are sent again. */
function unacknowledged(status: number, body: string): Verdict {
  const sample = body.trim().slice(0, 80).replace(/\s+/g, ' ') || 'an empty body';
  return {
    action: 'retry',
    reason: `HTTP ${status} without the API's acknowledgement (${sample})`,
    retryAfterMs: undefined,
    unacknowledged: true,
  };
}

function toFailedRecord(record: unknown): FailedRecord {
  if (typeof record === 'string') return { index: undefined, insertId: undefined, message: record };
  const r = (record ?? {}) as Record<string, unknown>;
  // Mixpanel's docs show `$insert_id`, its OpenAPI file `insert_id` (contract §3.2, U1): read both.
  const insertId = typeof r.$insert_id === 'string' ? r.$insert_id : typeof r.insert_id === 'string' ? r.insert_id : undefined;
  const index = typeof r.index === 'number' && Number.isInteger(r.index) && r.index >= 0 ? r.index : undefined;
  const field = typeof r.field === 'string' ? `${r.field}: ` : '';
  return { index, insertId, message: field + (typeof r.message === 'string' ? r.message : 'rejected') };
}

/** `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3), in ms; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/**
 * Delay before retry number `retry` (1-based): exponential from `minDelayMs`, capped at
 * `maxDelayMs`, with ±25 % jitter so many instances recovering together do not retry in step.
 * A server's `Retry-After` (capped at `maxRetryAfterMs`) is honoured as a floor: never sooner than
 * it asks, and a `Retry-After: 0` cannot turn backoff into back-to-back requests.
 */
export function retryDelay(retry: number, policy: RetryPolicy, retryAfterMs: number | undefined, random = Math.random): number {
  const exponential = Math.min(policy.maxDelayMs, policy.minDelayMs * 2 ** Math.min(retry - 1, 30));
  const backoff = Math.min(policy.maxDelayMs, Math.round(exponential * (0.75 + random() * 0.5)));
  if (retryAfterMs === undefined) return backoff;
  return Math.max(backoff, Math.min(retryAfterMs, policy.maxRetryAfterMs));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function errorText(body: string): string {
  const parsed = parseJson(body) as { error?: unknown } | undefined;
  if (parsed && typeof parsed.error === 'string') return parsed.error;
  return body.trim().slice(0, 200) || 'empty body';
}

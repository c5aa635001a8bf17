import { describe, expect, it } from 'vitest';
import { classify, parseRetryAfter, retryDelay } from '../src/retry.js';

const policy = { maxRetries: 10, minDelayMs: 2000, maxDelayMs: 60_000, maxRetryAfterMs: 60_000 };
const response = (status: number, body = '', retryAfter?: string) => ({ kind: 'response' as const, status, body, retryAfter });

describe('retry policy', () => {
  it('doubles from 2 s to a 60 s cap, with ±25 % jitter', () => {
    expect(retryDelay(1, policy, undefined, () => 0.5)).toBe(2000);
    expect(retryDelay(2, policy, undefined, () => 0.5)).toBe(4000);
    expect(retryDelay(6, policy, undefined, () => 0.5)).toBe(60_000);
    expect(retryDelay(1, policy, undefined, () => 0)).toBe(1500);
    expect(retryDelay(1, policy, undefined, () => 1)).toBe(2500);
    expect(retryDelay(50, policy, undefined, () => 1)).toBe(60_000);
  });

  it('honours Retry-After as a floor, capped', () => {
    expect(retryDelay(1, policy, 10_000, () => 0.5)).toBe(10_000);
    expect(retryDelay(1, policy, 0, () => 0.5)).toBe(2000);
    expect(retryDelay(1, policy, 999_999_000, () => 0.5)).toBe(60_000);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-11-29T10:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Sun, 29 Nov 2026 10:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it.each([408, 429, 500, 502, 503, 504])('retries %i', (status) => {
    expect(classify(response(status), 'import').action).toBe('retry');
  });

  it('retries network errors, splits on 413, drops 401/403 as unauthorized and other 4xx as rejected', () => {
    expect(classify({ kind: 'network', error: new Error('ECONNRESET') }, 'import').action).toBe('retry');
    expect(classify(response(413), 'import').action).toBe('split');
    expect(classify(response(401, '{"error":"Invalid credentials"}'), 'import')).toMatchObject({ action: 'drop', reason: 'unauthorized' });
    expect(classify(response(403), 'import')).toMatchObject({ action: 'drop', reason: 'unauthorized' });
    expect(classify(response(400, '{"error":"bad"}'), 'import')).toMatchObject({ action: 'drop', reason: 'rejected' });
    expect(classify(response(404), 'import')).toMatchObject({ action: 'drop', reason: 'rejected' });
  });

  it('reads strict failed_records with either insert id key, and string records', () => {
    const body = JSON.stringify({
      code: 400,
      num_records_imported: 1,
      failed_records: [
        { index: 0, $insert_id: 'a', field: 'properties.time', message: 'bad time' },
        { index: 2, insert_id: 'c', message: 'bad' },
        'identity events are not allowed',
      ],
    });
    expect(classify(response(400, body), 'import')).toEqual({
      action: 'partial',
      imported: 1,
      failed: [
        { index: 0, insertId: 'a', message: 'properties.time: bad time' },
        { index: 2, insertId: 'c', message: 'bad' },
        { index: undefined, insertId: undefined, message: 'identity events are not allowed' },
      ],
    });
  });

  it('reads /track answers: 1 and {status:1} delivered, 0 rejected, a temporary failure retried', () => {
    expect(classify(response(200, '1'), 'verbose').action).toBe('delivered');
    expect(classify(response(200, '{"status":1,"error":null}'), 'verbose').action).toBe('delivered');
    expect(classify(response(200, '0'), 'verbose')).toMatchObject({ action: 'drop', reason: 'rejected' });
    expect(classify(response(200, '{"status":0,"error":"a temporary failure occurred"}'), 'verbose').action).toBe('retry');
  });
});

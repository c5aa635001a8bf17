import { describe, expect, it } from 'vitest';
import { collector, event, feed, importEvents, send, trackEvents } from './helpers.js';

describe('fault injection', () => {
  it("answers 429 in Mixpanel's shape, with Retry-After only when asked, then recovers", async () => {
    const { url, store } = await collector({
      faults: [
        { kind: 'status', status: 429 },
        { kind: 'status', status: 429, retryAfter: 3 },
      ],
    });
    const first = await importEvents(url, [event('a', { device: 'D' })]);
    expect(first.status).toBe(429);
    expect(first.json).toEqual({
      code: 429,
      error: 'Project exceeded rate limits. Please retry the request with exponential backoff.',
      status: 'Too Many Requests',
    });
    expect(first.headers.get('retry-after')).toBeNull();
    const second = await importEvents(url, [event('a', { device: 'D' })]);
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toBe('3');
    expect((await importEvents(url, [event('a', { device: 'D' })])).status).toBe(200);
    expect(store.countEvents()).toBe(1);
  });

  it('scripts faults through POST /_control/faults: next N requests, per endpoint', async () => {
    const { url } = await collector();
    const added = await send(url, '/_control/faults', {
      body: JSON.stringify({
        faults: [
          { kind: 'status', status: 503, times: 2, endpoints: ['import'] },
          { kind: 'status', status: 413 },
        ],
      }),
    });
    expect(added.json).toEqual({
      faults: [
        { kind: 'status', status: 503, times: 2, endpoints: ['import'] },
        { kind: 'status', status: 413, times: 1 },
      ],
    });
    // /track skips the import-only fault and takes the 413.
    const track = await trackEvents(url, [event('t', { device: 'D' })]);
    expect(track.status).toBe(413);
    expect(track.json).toEqual({ code: 413, error: 'request exceeds max limit of 10000000 bytes', status: 'Request Entity Too Large' });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await importEvents(url, [event('i', { device: 'D' })])).status);
    expect(statuses).toEqual([503, 503, 200]);
    expect((await send(url, '/_control/faults')).json).toEqual({ faults: [] });
  });

  it('clears pending faults with DELETE, and refuses malformed specs with 400', async () => {
    const { url } = await collector();
    await send(url, '/_control/faults', { body: JSON.stringify({ kind: 'status', status: 500, times: 'always' }) });
    expect((await importEvents(url, [event('a', { device: 'D' })])).status).toBe(500);
    expect((await importEvents(url, [event('a', { device: 'D' })])).status).toBe(500);
    expect((await send(url, '/_control/faults', { method: 'DELETE' })).json).toEqual({ faults: [] });
    expect((await importEvents(url, [event('a', { device: 'D' })])).status).toBe(200);
    const bad = await send(url, '/_control/faults', { body: JSON.stringify({ kind: 'status', status: 200 }) });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/status must be an HTTP status 400–599/);
  });

  it('drops the connection without an answer', async () => {
    const { url, store } = await collector({ faults: [{ kind: 'drop' }] });
    await expect(importEvents(url, [event('a', { device: 'D' })])).rejects.toThrow();
    expect(store.countEvents()).toBe(0);
    expect((await importEvents(url, [event('a', { device: 'D' })])).status).toBe(200);
  });

  it('fails after ingesting with afterIngest, so a retry with the same $insert_id is a hidden duplicate', async () => {
    const { url, store } = await collector({
      faults: [
        { kind: 'status', status: 502, afterIngest: true },
        { kind: 'drop', afterIngest: true },
      ],
    });
    const once = event('pay', { device: 'D', user: 'U' });
    expect((await importEvents(url, [once])).status).toBe(502);
    await expect(importEvents(url, [once])).rejects.toThrow();
    expect((await importEvents(url, [once])).status).toBe(200);
    expect(store.countEvents()).toBe(3);
    expect(await feed(url, 'U')).toEqual([['pay', 'U', 'U']]);
    expect((await send(url, '/api/events?distinct_id=U&raw=1')).json.events).toHaveLength(3);
  });

  it('delays a request, then handles it normally', async () => {
    const { url } = await collector({ faults: [{ kind: 'delay', ms: 150 }] });
    const started = performance.now();
    expect((await importEvents(url, [event('slow', { device: 'D' })])).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('answers 200 {status: 0, error: "a temporary failure occurred"} on /track (U14)', async () => {
    const { url, store } = await collector({ faults: [{ kind: 'temporary-failure', endpoints: ['track'] }] });
    expect((await trackEvents(url, [event('a', { device: 'D' })])).json).toEqual({ status: 0, error: 'a temporary failure occurred' });
    expect(store.countEvents()).toBe(0);
  });

  it('resets all data through POST /_control/reset', async () => {
    const { url, store } = await collector();
    await importEvents(url, [event('a', { device: 'D', user: 'U' })]);
    expect((await send(url, '/_control/reset', { method: 'POST' })).json).toEqual({ reset: true });
    expect(store.countEvents()).toBe(0);
    expect((await send(url, '/api/identity/U')).status).toBe(404);
  });
});

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { coreOf } from '../src/adapter.js';
import { createTracker, DeliveryError, type IdstitchError, type Tracker, type TrackerOptions } from '../src/index.js';
import { startIngestStub, uniqueByInsertId, type IngestStub, type RecordedRequest } from './support/ingest-stub.js';

const TOKEN = 'test-token';
/** Mixpanel's documented error bodies (contract §3.2). */
const RATE_LIMITED = {
  code: 429,
  error: 'Project exceeded rate limits. Please retry the request with exponential backoff.',
  status: 'Too Many Requests',
};
const TOO_LARGE = { code: 413, error: 'request exceeds max limit of 2097152 bytes', status: 'Request Entity Too Large' };
const UNAUTHORIZED = { code: 401, error: 'Invalid credentials', status: 'Unauthorized' };

let stub: IngestStub;
let errors: IdstitchError[];
let tracker: Tracker | undefined;

beforeEach(async () => {
  stub = await startIngestStub();
  errors = [];
});

afterEach(async () => {
  vi.unstubAllEnvs();
  await tracker?.shutdown({ timeoutMs: 100 });
  tracker = undefined;
  await stub.close();
});

/** A tracker pointed at the stub, with retry delays short enough for tests. */
function trackerFor(options: TrackerOptions = {}): Tracker {
  tracker = createTracker({
    apiHost: stub.url,
    token: TOKEN,
    minRetryDelayMs: 5,
    maxRetryDelayMs: 50,
    onError: (error) => errors.push(error),
    ...options,
  });
  return tracker;
}

/** Tracks `count` page views from a handful of devices, numbered by `n`. */
function trackPageViews(target: Tracker, count: number): void {
  for (let n = 0; n < count; n++) target.track('Viewed Page', { n }, { deviceId: `device-${n % 7}` });
}

/** The `$insert_id` and `time` of each event a request carried: what Mixpanel dedupes on (contract §4). */
function dedupeKeys(request: RecordedRequest): unknown[] {
  return request.events.map((event) => [event.properties.$insert_id, event.properties.time]);
}

function gapMs(requests: readonly RecordedRequest[], from: number): number {
  return requests[from + 1]!.at - requests[from]!.at;
}

function errorsWith(code: IdstitchError['code']): DeliveryError[] {
  return errors.filter((error): error is DeliveryError => error.code === code);
}

describe('delivery: the wire format', () => {
  it('sends 1000 events in a handful of gzipped, Basic-authenticated requests to /import?strict=1&ip=0', async () => {
    const t = trackerFor();
    trackPageViews(t, 1000);
    await t.flush();

    expect(stub.requests.length).toBeGreaterThan(0);
    expect(stub.requests.length).toBeLessThanOrEqual(5);
    for (const request of stub.requests) {
      expect(request.method).toBe('POST');
      expect(request.path).toBe('/import');
      expect(request.query.get('strict')).toBe('1');
      expect(request.query.get('ip')).toBe('0');
      expect(request.headers['content-encoding']).toBe('gzip');
      expect(request.raw.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b])); // gzip magic number
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.headers.authorization).toBe('Basic ' + Buffer.from(TOKEN + ':').toString('base64'));
    }
    const events = stub.events();
    expect(uniqueByInsertId(events)).toHaveLength(1000);
    expect(new Set(events.map((event) => event.properties.n)).size).toBe(1000);
    expect(t.stats()).toMatchObject({ tracked: 1000, delivered: 1000, queued: 0, retries: 0 });
    expect(errors).toEqual([]);
  });

  it('keeps every request body within maxBatchBytes of uncompressed JSON, brackets and commas included', async () => {
    // Events of one fixed size: same name, device, padding, and a 13-digit ms time.
    const sendSameSize = (target: Tracker, count: number): void => {
      for (let n = 0; n < count; n++) target.track('Padded', { pad: 'x'.repeat(300) }, { deviceId: 'device-1' });
    };
    const probe = trackerFor();
    sendSameSize(probe, 1);
    await probe.flush();
    const eventBytes = stub.requests[0]!.body.length - 2; // minus '[' and ']'
    await probe.shutdown();

    // Room for exactly four events and their separators, but not the closing bracket.
    const maxBatchBytes = 4 * (eventBytes + 1);
    const t = trackerFor({ maxBatchBytes });
    sendSameSize(t, 12);
    await t.flush();

    const batches = stub.requests.slice(1);
    for (const request of batches) expect(request.body.length).toBeLessThanOrEqual(maxBatchBytes);
    // Three events and their brackets fit; a fourth would pass the limit by the closing bracket.
    expect(Math.max(...batches.map((request) => request.events.length))).toBe(3);
    expect(uniqueByInsertId(stub.events().slice(1))).toHaveLength(12);
    expect(t.stats().delivered).toBe(12);
  });
});

describe('delivery: retries', () => {
  it('rides out 500, 502, 503 and 504, resending byte-identical bodies, and loses nothing', async () => {
    stub.reply({ status: 500 }, { status: 502 }, { status: 503 }, { status: 504 });
    const t = trackerFor();
    trackPageViews(t, 3);
    await t.flush();

    const [first, ...retries] = stub.requests;
    expect(stub.requests.map((request) => request.outcome)).toEqual([500, 502, 503, 504, 200]);
    for (const retry of retries) {
      expect(retry.raw.equals(first!.raw)).toBe(true);
      expect(dedupeKeys(retry)).toEqual(dedupeKeys(first!));
    }
    expect(stub.events()).toHaveLength(3);
    expect(t.stats()).toMatchObject({ delivered: 3, requests: 5, retries: 4 });
    expect(errors).toEqual([]);
  });

  it('retries a connection reset mid-body and resends the same bytes', async () => {
    stub.reply('reset');
    const t = trackerFor();
    // Random payloads, so even gzipped the body spans several socket reads and the reset lands mid-body.
    for (let n = 0; n < 400; n++) t.track('Uploaded', { n, blob: randomBytes(256).toString('hex') }, { deviceId: 'device-1' });
    await t.flush();

    const [reset, retry] = stub.requests;
    expect(reset!.outcome).toBe('reset');
    expect(reset!.raw.length).toBeLessThan(Number(reset!.headers['content-length']));
    expect(retry!.raw.subarray(0, reset!.raw.length).equals(reset!.raw)).toBe(true);
    expect(retry!.outcome).toBe(200);
    expect(uniqueByInsertId(stub.events())).toHaveLength(400);
    expect(t.stats()).toMatchObject({ delivered: 400, retries: 1 });
  });

  it('waits as long as Retry-After says after a 429', async () => {
    stub.reply({ status: 429, body: RATE_LIMITED, headers: { 'retry-after': '1' } });
    const t = trackerFor();
    trackPageViews(t, 1);
    await t.flush();

    expect(stub.requests.map((request) => request.outcome)).toEqual([429, 200]);
    expect(gapMs(stub.requests, 0)).toBeGreaterThanOrEqual(900);
    expect(gapMs(stub.requests, 0)).toBeLessThan(3000);
    expect(t.stats().delivered).toBe(1);
  });

  it('caps an absurd Retry-After at maxRetryAfterMs', async () => {
    stub.reply({ status: 429, body: RATE_LIMITED, headers: { 'retry-after': '999999' } });
    const t = trackerFor({ maxRetryAfterMs: 200 });
    trackPageViews(t, 1);
    await t.flush();

    expect(stub.requests.map((request) => request.outcome)).toEqual([429, 200]);
    // Honoured up to the cap (the backoff alone would be 5–50 ms), and no further.
    expect(gapMs(stub.requests, 0)).toBeGreaterThanOrEqual(190);
    expect(gapMs(stub.requests, 0)).toBeLessThan(1500);
    expect(t.stats().delivered).toBe(1);
  });

  it('gives up on a request that hangs past timeoutMs, and retries it', async () => {
    stub.reply('hang');
    const t = trackerFor({ timeoutMs: 300 });
    trackPageViews(t, 2);
    await t.flush();

    expect(stub.requests.map((request) => request.outcome)).toEqual(['hang', 200]);
    expect(gapMs(stub.requests, 0)).toBeGreaterThanOrEqual(280);
    expect(dedupeKeys(stub.requests[1]!)).toEqual(dedupeKeys(stub.requests[0]!));
    expect(t.stats()).toMatchObject({ delivered: 2, retries: 1 });
  });

  it('waits longer before each retry: exponential backoff on the wire, jitter included', async () => {
    stub.reply({ status: 503 }, { status: 503 }, { status: 503 });
    const t = trackerFor({ minRetryDelayMs: 40, maxRetryDelayMs: 10_000 });
    t.track('Backoff', {}, { deviceId: 'device-1' });
    await t.flush();
    expect(stub.requests).toHaveLength(4);
    const gaps = [0, 1, 2].map((from) => gapMs(stub.requests, from));
    // 40, 80, 160 ms, each ±25 %: every gap is at least 1.2 times the one before.
    expect(gaps[1]! / gaps[0]!).toBeGreaterThanOrEqual(1.2);
    expect(gaps[2]! / gaps[1]!).toBeGreaterThanOrEqual(1.2);
    expect(gaps[0]).toBeGreaterThanOrEqual(30);
  });

  it('drops a batch once maxRetries retries have failed, and reports it', async () => {
    stub.otherwise({ status: 503 });
    const t = trackerFor({ maxRetries: 2 });
    trackPageViews(t, 4);
    await t.flush();

    expect(stub.requests).toHaveLength(3);
    expect(t.stats()).toMatchObject({ delivered: 0, requests: 3, retries: 2, queued: 0 });
    expect(t.stats().dropped.retries_exhausted).toBe(4);
    const [failed] = errorsWith('IDSTITCH_DELIVERY_FAILED');
    expect(failed).toBeInstanceOf(DeliveryError);
    expect(failed).toMatchObject({ reason: 'retries_exhausted', count: 4, status: 503 });
  });
});

describe('delivery: refusals', () => {
  it('splits a batch the API answers 413 for until every event gets through', async () => {
    stub.otherwise((request) => (request.events.length > 100 ? { status: 413, body: TOO_LARGE } : {}));
    const t = trackerFor();
    trackPageViews(t, 1000);
    await t.flush();

    expect(stub.requests.some((request) => request.outcome === 413)).toBe(true);
    for (const request of stub.requests.filter((r) => r.outcome === 200)) expect(request.events.length).toBeLessThanOrEqual(100);
    expect(uniqueByInsertId(stub.events())).toHaveLength(1000);
    expect(stub.events()).toHaveLength(1000);
    expect(t.stats().splits).toBeGreaterThan(0);
    expect(t.stats()).toMatchObject({ delivered: 1000, queued: 0 });
    expect(errors).toEqual([]);
  });

  it('drops a single event answered 413 as too_large', async () => {
    stub.reply({ status: 413, body: TOO_LARGE });
    const t = trackerFor();
    trackPageViews(t, 1);
    await t.flush();

    expect(stub.requests).toHaveLength(1);
    expect(t.stats().dropped.too_large).toBe(1);
    expect(t.stats().delivered).toBe(0);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'IDSTITCH_RECORDS_REJECTED', reason: 'too_large', count: 1, status: 413 });
  });

  it('drops only the records a strict 400 names, reporting their indices and insert ids', async () => {
    stub.reply({
      status: 400,
      body: {
        code: 400,
        error: 'some data points in the request failed validation',
        failed_records: [
          { index: 1, field: 'properties.time', message: "'properties.time' is invalid: must not be in the future" },
          { index: 3, field: 'event', message: "'event' must not be missing or blank" },
        ],
        num_records_imported: 3,
        status: 'Bad Request',
      },
    });
    const t = trackerFor();
    for (let n = 0; n < 5; n++) t.track(`Event ${n}`, {}, { deviceId: 'device-1' });
    await t.flush();

    expect(stub.requests).toHaveLength(1); // a 400 is never retried
    const sent = stub.requests[0]!.events;
    expect(stub.events().map((event) => event.event)).toEqual(['Event 0', 'Event 2', 'Event 4']);
    expect(t.stats()).toMatchObject({ delivered: 3, retries: 0 });
    expect(t.stats().dropped.rejected).toBe(2);
    expect(errors).toHaveLength(1);
    const rejected = errors[0] as DeliveryError;
    expect(rejected).toBeInstanceOf(DeliveryError);
    expect(rejected).toMatchObject({ code: 'IDSTITCH_RECORDS_REJECTED', reason: 'rejected', count: 2, status: 400 });
    expect(rejected.records.map(({ index, insertId }) => ({ index, insertId }))).toEqual([
      { index: 1, insertId: sent[1]!.properties.$insert_id },
      { index: 3, insertId: sent[3]!.properties.$insert_id },
    ]);
    expect(rejected.records[0]!.message).toContain('properties.time');
  });

  it('counts from num_records_imported when a strict 400 names no usable index', async () => {
    stub.reply({
      status: 400,
      body: {
        code: 400,
        error: 'some data points in the request failed validation',
        // One entry, no index, for two records the API did not take: only the count says how many.
        failed_records: ['a bare string, as identity verbs come back'],
        num_records_imported: 3,
        status: 'Bad Request',
      },
    });
    const t = trackerFor();
    for (let n = 0; n < 5; n++) t.track(`Event ${n}`, {}, { deviceId: 'device-1' });
    await t.flush();
    expect(t.stats()).toMatchObject({ delivered: 3, retries: 0 });
    expect(t.stats().dropped.rejected).toBe(2);
    expect(errorsWith('IDSTITCH_RECORDS_REJECTED')[0]).toMatchObject({ count: 2 });
  });

  it('reports a 401 once however many batches it refuses, and never retries', async () => {
    stub.otherwise({ status: 401, body: UNAUTHORIZED });
    const t = trackerFor({ flushAt: 2, maxBatchSize: 2 });
    trackPageViews(t, 6);
    await t.flush();

    expect(stub.requests).toHaveLength(3); // one request per batch
    expect(t.stats()).toMatchObject({ delivered: 0, retries: 0 });
    expect(t.stats().dropped.unauthorized).toBe(6);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'IDSTITCH_UNAUTHORIZED', reason: 'unauthorized', status: 401 });
  });
});

describe('delivery: only an acknowledgement counts as delivered', () => {
  const HTML = { status: 200, body: '<!doctype html><title>Sign in to the Wi-Fi</title>', headers: { 'content-type': 'text/html' } };

  it('retries a 200 that is an HTML page (a wrong apiHost, a captive portal), reports it once, and counts delivery only on the real answer', async () => {
    stub.reply(HTML, HTML);
    const t = trackerFor({ flushAt: 10 });
    trackPageViews(t, 30);
    await t.flush();
    expect(t.stats()).toMatchObject({ delivered: 30, tracked: 30 });
    expect(t.stats().retries).toBeGreaterThanOrEqual(2);
    expect(errorsWith('IDSTITCH_UNACKNOWLEDGED')).toHaveLength(1);
    expect(errorsWith('IDSTITCH_UNACKNOWLEDGED')[0]!.message).toContain('Sign in to the Wi-Fi');
    expect(uniqueByInsertId(stub.events())).toHaveLength(30);
  });

  it('drops as retries_exhausted, never delivered, when no acknowledgement ever comes', async () => {
    stub.otherwise({ status: 200, body: 'OK' });
    const t = trackerFor({ maxRetries: 2 });
    trackPageViews(t, 5);
    await t.flush();
    expect(t.stats()).toMatchObject({ delivered: 0, requests: 3 });
    expect(t.stats().dropped.retries_exhausted).toBe(5);
    expect(errors.map((error) => error.code)).toEqual(['IDSTITCH_UNACKNOWLEDGED', 'IDSTITCH_DELIVERY_FAILED']);
  });

  it('checks /engage the same way: {status: 1} or nothing', async () => {
    stub.otherwise((request) =>
      request.path === '/engage' ? { status: 200, body: { code: 200, num_records_imported: 1, status: 'OK' } } : {},
    );
    const t = trackerFor({ maxRetries: 1 });
    t.track('Warm Up', {}, { deviceId: 'device-1' });
    coreOf(t).profile('ada', ['set', { plan: 'pro' }]);
    await t.flush();
    expect(t.stats().profiles).toMatchObject({ delivered: 0, requests: 2 });
    expect(t.stats().profiles.dropped.retries_exhausted).toBe(1);
  });

  it('ends an attempt whose answer trickles in within timeoutMs in total, not per chunk, and retries it', async () => {
    const { createServer } = await import('node:http');
    const opened: number[] = [];
    const closed: number[] = [];
    let answered = 0;
    const slow = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        answered++;
        if (answered > 1) {
          res
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify({ code: 200, num_records_imported: 1, status: 'OK' }));
          return;
        }
        opened.push(performance.now());
        res.writeHead(200, { 'content-type': 'application/json' });
        // One byte every 50 ms: undici's per-chunk timeouts never fire.
        const drip = setInterval(() => res.write(' '), 50);
        res.on('close', () => {
          clearInterval(drip);
          closed.push(performance.now());
        });
      });
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    try {
      const port = (slow.address() as import('node:net').AddressInfo).port;
      const t = trackerFor({ apiHost: `http://127.0.0.1:${port}`, timeoutMs: 400 });
      t.track('Slow', {}, { deviceId: 'device-1' });
      await t.flush();
      // Without a total deadline the first attempt would never end, and flush() never resolve.
      expect(t.stats()).toMatchObject({ delivered: 1, retries: 1 });
      expect(closed, 'the trickling answer was cut off by the client').toHaveLength(1);
      expect(opened).toHaveLength(1);
    } finally {
      slow.closeAllConnections();
      await new Promise<void>((resolve) => slow.close(() => resolve()));
    }
  });

  it('reads at most 1 MiB of an answer: an endless body is cut off, not read until the deadline', async () => {
    const { createServer } = await import('node:http');
    let written = 0;
    const endless = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        const pump = (): void => {
          while (!res.destroyed) {
            written += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
        };
        pump();
      });
    });
    await new Promise<void>((resolve) => endless.listen(0, '127.0.0.1', resolve));
    try {
      const port = (endless.address() as import('node:net').AddressInfo).port;
      const t = trackerFor({ apiHost: `http://127.0.0.1:${port}`, timeoutMs: 60_000, maxRetries: 0 });
      t.track('Endless', {}, { deviceId: 'device-1' });
      await t.flush();
      // Truncated at 1 MiB, the body is no acknowledgement; without the cap flush() would wait out the 60 s deadline.
      expect(t.stats().dropped.retries_exhausted).toBe(1);
      expect(written, 'the server stopped being read soon after 1 MiB').toBeLessThan(32 * 1024 * 1024);
    } finally {
      endless.closeAllConnections();
      await new Promise<void>((resolve) => endless.close(() => resolve()));
    }
  });
});

describe('delivery: the queue and the host app', () => {
  it('holds at most maxQueueSize events, counting those in flight, and drops the rest as queue_full', async () => {
    stub.otherwise('hang');
    const t = trackerFor({ maxQueueSize: 10, flushAt: 5 });
    trackPageViews(t, 11);
    expect(t.stats().dropped.queue_full).toBe(1);

    // Both batches are now stuck at the API: the events in flight still count against the bound.
    await stub.waitForRequests(2);
    trackPageViews(t, 1);
    expect(t.stats().dropped.queue_full).toBe(2);
    expect(t.stats().queued).toBeLessThanOrEqual(10);
    expect(t.stats().tracked).toBe(10);
    // One report per overflow, however many events it drops; the counter has the rest.
    expect(errorsWith('IDSTITCH_QUEUE_FULL')).toHaveLength(1);
    expect(errorsWith('IDSTITCH_QUEUE_FULL')[0]).toMatchObject({ reason: 'queue_full', count: 1 });
  });

  it('holds at most maxQueueBytes of events, counting those in flight: the byte bound binds before the count bound', async () => {
    stub.otherwise('hang');
    const t = trackerFor({ maxQueueBytes: 1_000_000, maxQueueSize: 10_000, flushAt: 10 });
    const blob = 'x'.repeat(10_000);
    for (let n = 0; n < 150; n++) t.track('Big', { blob, n }, { deviceId: 'device-1' });
    const { queued, tracked, dropped } = t.stats();
    expect(tracked).toBeLessThan(100); // about 10 KB each: fewer than 100 fit in 1 MB
    expect(tracked).toBeGreaterThan(90);
    expect(queued).toBe(tracked);
    expect(dropped.queue_full).toBe(150 - tracked);
    expect(errorsWith('IDSTITCH_QUEUE_FULL')).toHaveLength(1);
  });

  it('flush() resolves only once the API has answered', async () => {
    stub.reply({ delayMs: 300 });
    const t = trackerFor();
    trackPageViews(t, 3);
    let flushed = false;
    const flushing = t.flush().then(() => {
      flushed = true;
    });

    await stub.waitForRequests(1);
    expect(stub.requests[0]!.outcome).toBeUndefined(); // the stub is still sitting on it
    expect(flushed).toBe(false);
    await flushing;
    expect(stub.requests[0]!.outcome).toBe(200);
    expect(t.stats()).toMatchObject({ delivered: 3, queued: 0 });
  });

  it('keeps track() synchronous and fast while the API takes 2 s to answer', async () => {
    stub.otherwise({ delayMs: 2000 });
    const t = trackerFor({ flushAt: 10 });
    const returned: unknown[] = [];
    const started = performance.now();
    for (let n = 0; n < 100; n++) returned.push(t.track('Viewed Page', { n }, { deviceId: 'device-1' }));
    const elapsed = performance.now() - started;

    expect(elapsed).toBeLessThan(200);
    expect(returned.every((value) => value === undefined)).toBe(true); // nothing to await
    await stub.waitForRequests(1);
    expect(t.stats()).toMatchObject({ tracked: 100, delivered: 0 }); // the API has not answered yet
  });

  it('sends nothing without a token or an apiHost, and counts not_configured', async () => {
    vi.stubEnv('MIXPANEL_TOKEN', '');
    const t = createTracker({ onError: (error) => errors.push(error), logger: false });
    tracker = t;
    trackPageViews(t, 3);
    await t.flush();

    expect(t.stats()).toMatchObject({ tracked: 0, requests: 0, queued: 0 });
    expect(t.stats().dropped.not_configured).toBe(3);
    expect(errors.map((error) => error.code)).toEqual(['IDSTITCH_NOT_CONFIGURED']);
  });
});

describe('delivery: shutdown', () => {
  it('shutdown() delivers all 5,000 queued events before it resolves', async () => {
    stub.otherwise({ delayMs: 20 });
    const t = trackerFor();
    trackPageViews(t, 5000);
    await t.shutdown();

    expect(stub.events()).toHaveLength(5000);
    expect(uniqueByInsertId(stub.events())).toHaveLength(5000);
    expect(t.stats()).toMatchObject({ delivered: 5000, queued: 0 });
    expect(errors).toEqual([]);
  });

  it('shutdown() cuts short a long Retry-After wait instead of sleeping through its deadline', async () => {
    stub.reply({ status: 429, body: RATE_LIMITED, headers: { 'retry-after': '30' } });
    const t = trackerFor();
    trackPageViews(t, 2);
    void t.flush();
    await stub.waitForRequests(1);

    const started = performance.now();
    await t.shutdown({ timeoutMs: 5000 });

    expect(performance.now() - started).toBeLessThan(2000);
    expect(stub.requests.map((request) => request.outcome)).toEqual([429, 200]);
    expect(t.stats()).toMatchObject({ delivered: 2, queued: 0 });
    expect(t.stats().dropped.shutdown_timeout).toBe(0);
  });

  it('shutdown() cuts short a long exponential backoff too (no Retry-After), and delivers before its deadline', async () => {
    stub.reply({ status: 503 });
    const t = trackerFor({ minRetryDelayMs: 30_000, maxRetryDelayMs: 60_000 });
    t.track('Waiting', {}, { deviceId: 'device-1' });
    await stub.waitForRequests(1);
    await t.shutdown({ timeoutMs: 10_000 });
    expect(t.stats()).toMatchObject({ delivered: 1, retries: 1 });
    // The retry came after the shortened wait (1 s at most), not the 30 s backoff.
    expect(gapMs(stub.requests, 0)).toBeLessThan(5_000);
  });

  it('shutdown({ timeoutMs: 200 }) gives up on a hanging API within a second, counting what was left', async () => {
    stub.otherwise('hang');
    // One request slot: 5 events go out and hang, 7 wait behind them.
    const t = trackerFor({ maxConcurrentRequests: 1, flushAt: 5 });
    trackPageViews(t, 12);
    await stub.waitForRequests(1);

    const started = performance.now();
    await t.shutdown({ timeoutMs: 200 });
    const elapsed = performance.now() - started;

    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(1000);
    expect(t.stats().dropped.shutdown_timeout).toBe(12);
    expect(t.stats()).toMatchObject({ delivered: 0, queued: 0 });
    const timeouts = errorsWith('IDSTITCH_SHUTDOWN_TIMEOUT');
    expect(timeouts).toHaveLength(1);
    expect(timeouts[0]).toMatchObject({ reason: 'shutdown_timeout', count: 12 });
  });

  it('counts and reports track() after shutdown() without throwing', async () => {
    const t = trackerFor();
    await t.shutdown();

    expect(() => t.track('Too Late', {}, { deviceId: 'device-1' })).not.toThrow();
    expect(t.stats().dropped.tracker_closed).toBe(1);
    expect(t.stats().tracked).toBe(0);
    expect(errors.map((error) => error.code)).toEqual(['IDSTITCH_TRACKER_CLOSED']);
    await t.flush();
    expect(stub.requests).toHaveLength(0);
  });

  it('lets a process that only awaits flush() exit on its own', async () => {
    const entry = new URL('../src/index.ts', import.meta.url).href;
    // The whole app: track, flush, and no shutdown(). Idle timers and keep-alive sockets must not hold it open.
    const script = `
      const { createTracker } = await import(process.env.IDSTITCH_ENTRY);
      const tracker = createTracker({ apiHost: process.env.STUB_URL, token: 'child-token', logger: false });
      tracker.track('From Child', {}, { deviceId: 'device-child' });
      await tracker.flush();
      process.stdout.write('flushed\\n');
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env: { ...process.env, IDSTITCH_ENTRY: entry, STUB_URL: stub.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let flushedAt: number | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('flushed')) flushedAt ??= performance.now();
    });

    const exit = await new Promise<{ code: number | null; at: number } | 'still running'>((resolve) => {
      // Only a deadline for the failure case: the exit event is what we wait on.
      const deadline = setTimeout(() => {
        child.kill('SIGKILL');
        resolve('still running');
      }, 10_000);
      child.once('exit', (code) => {
        clearTimeout(deadline);
        resolve({ code, at: performance.now() });
      });
    });

    expect(exit, stderr).not.toBe('still running');
    if (exit === 'still running') return;
    expect(exit.code, stderr).toBe(0);
    expect(flushedAt).toBeDefined();
    // Well under undici's 4 s keep-alive: an idle socket or timer holding the loop would show here.
    expect(exit.at - flushedAt!).toBeLessThan(2000);
    expect(stub.events().map((event) => event.event)).toEqual(['From Child']);
  });
});

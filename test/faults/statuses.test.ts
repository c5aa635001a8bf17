// The fault matrix, HTTP statuses: 300 events tracked through Express (30 requests from ten
// browsers), delivered through a fault proxy into the real collector. Each test names its figures:
// events sent, delivered (distinct `$insert_id`s stored), duplicates left after de-duplication, and
// what the tracker gave up, by reason. Expected everywhere: nothing lost that was not given up and
// counted, no duplicates after dedupe.
import { afterEach, describe, expect, it } from 'vitest';
import type { ProxiedRequest } from '../support/fault-proxy.js';
import { describeRun, expectAccounted, givenUp, startRig, type Rig } from './rig.js';

let rig: Rig | undefined;

afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

async function run(prepare: (rig: Rig) => void, options?: Parameters<typeof startRig>[0], count = 300) {
  rig = await startRig(options);
  prepare(rig);
  await rig.send(count);
  await rig.middleware.tracker.flush();
  const figures = await rig.figures();
  const stats = rig.stats();
  return { figures, stats, line: describeRun(figures, stats) };
}

function insertIdOf(event: unknown): string {
  return (event as { properties: { $insert_id: string } }).properties.$insert_id;
}

/** The request that retried `request`'s batch: the next one starting with the same event. */
function retryOf(requests: readonly ProxiedRequest[], request: ProxiedRequest): ProxiedRequest | undefined {
  const first = insertIdOf(request.events[0]);
  return requests.find((later) => later.index > request.index && later.events.length > 0 && insertIdOf(later.events[0]) === first);
}

describe('faults: 5xx', () => {
  it.each([500, 502, 503, 504])(
    'a run of three %i answers on one batch: 300 sent, 300 delivered, 0 duplicates, 0 given up',
    async (status) => {
      // One request slot, so the first batch meets the whole run and its fourth attempt gets through.
      const { figures, stats, line } = await run((r) => r.proxy.script({ status }, { status }, { status }), {
        tracker: { maxConcurrentRequests: 1 },
      });

      const attempts = rig!.proxy.requests.slice(0, 4);
      expect(
        attempts.map((request) => request.outcome),
        line,
      ).toEqual([status, status, status, 200]);
      expect(new Set(attempts.map((request) => insertIdOf(request.events[0]))).size, 'the same batch each time').toBe(1);
      expect(figures.delivered, line).toBe(300);
      expect(stats.retries, line).toBe(3);
      expect(givenUp(stats), line).toBe(0);
      expectAccounted(figures, stats);
    },
  );

  it('two 502s after the collector had ingested the batch: 300 delivered, the copies stored and 0 duplicates after dedupe', async () => {
    const { figures, stats, line } = await run((r) => r.proxy.script({ afterForward: 502 }, { afterForward: 502 }));

    expect(figures.delivered, line).toBe(300);
    // Each lost acknowledgement stored a batch twice; the retry reused `$insert_id` and `time`.
    expect(figures.stored, line).toBeGreaterThanOrEqual(300 + 2 * 100);
    expect(figures.afterDedupe, line).toBe(300);
    expectAccounted(figures, stats);
  });

  it('503 on every request with maxRetries 2: 300 sent, 0 delivered, 300 given up as retries_exhausted and reported', async () => {
    const { figures, stats, line } = await run((r) => r.proxy.otherwise({ status: 503 }), { tracker: { maxRetries: 2 } });

    expect(figures.delivered, line).toBe(0);
    expect(stats.dropped.retries_exhausted, line).toBe(300);
    expect(stats.requests, line).toBe(3 * 3); // three batches, one attempt and two retries each
    const reported = rig!.reported('IDSTITCH_DELIVERY_FAILED');
    expect(
      reported.reduce((sum, error) => sum + error.count, 0),
      line,
    ).toBe(300);
    expectAccounted(figures, stats);
  });
});

describe('faults: 429', () => {
  it('three 429s without Retry-After: 300 delivered after exponential backoff, 0 duplicates', async () => {
    const { figures, stats, line } = await run((r) => r.proxy.script({ status: 429 }, { status: 429 }, { status: 429 }));

    expect(figures.delivered, line).toBe(300);
    expect(stats.retries, line).toBeGreaterThanOrEqual(3);
    expectAccounted(figures, stats);
  });

  it('429 with Retry-After: 1: the batch waits ≥ 1 s (backoff alone would be 20 ms), then 300 delivered', async () => {
    const { figures, stats, line } = await run((r) => r.proxy.script({ status: 429, retryAfter: '1' }));

    const limited = rig!.proxy.requests[0]!;
    const retry = retryOf(rig!.proxy.requests, limited);
    expect(retry, line).toBeDefined();
    expect(retry!.at - limited.at, line).toBeGreaterThanOrEqual(950);
    expect(figures.delivered, line).toBe(300);
    expectAccounted(figures, stats);
  });

  it('429 with an absurd Retry-After (1 day) is capped at maxRetryAfterMs 500: retried within 0.5–3 s, 300 delivered', async () => {
    const { figures, stats, line } = await run((r) => r.proxy.script({ status: 429, retryAfter: '86400' }), {
      tracker: { maxRetryAfterMs: 500 },
    });

    const limited = rig!.proxy.requests[0]!;
    const gap = retryOf(rig!.proxy.requests, limited)!.at - limited.at;
    expect(gap, line).toBeGreaterThanOrEqual(450);
    expect(gap, line).toBeLessThan(3000);
    expect(figures.delivered, line).toBe(300);
    expectAccounted(figures, stats);
  });
});

describe('faults: refusals', () => {
  it('413 from a collector taking 16 KiB a request, plus one 20 KB event: 301 sent, 300 delivered after splits, 1 given up as too_large', async () => {
    rig = await startRig({ collector: { maxRequestBytes: 16 * 1024 } });
    await rig.send(150);
    await rig.send(1, { pad: 20_000 });
    await rig.send(150);
    await rig.middleware.tracker.flush();
    const figures = await rig.figures();
    const stats = rig.stats();
    const line = describeRun(figures, stats);

    expect(
      rig.proxy.requests.some((request) => request.outcome === 413),
      line,
    ).toBe(true);
    expect(stats.splits, line).toBeGreaterThan(0);
    expect(figures.delivered, line).toBe(300);
    expect(stats.dropped.too_large, line).toBe(1);
    expect(rig.reported('IDSTITCH_RECORDS_REJECTED').map((error) => error.reason)).toEqual(['too_large']);
    expectAccounted(figures, stats);
  });

  it('strict 400 naming 3 failed records of a batch: 297 delivered, exactly those 3 dropped and reported by index and $insert_id', async () => {
    const corrupted: string[] = [];
    const indices = [3, 17, 42];
    const { figures, stats, line } = await run((r) =>
      r.proxy.script({
        // Times a day ahead: the collector refuses those records and stores the rest, as strict /import does.
        rewrite: (events) =>
          events.map((event, index) => {
            if (!indices.includes(index)) return event;
            corrupted.push(insertIdOf(event));
            const { properties } = event as { properties: Record<string, unknown> };
            return { ...(event as object), properties: { ...properties, time: Date.now() + 24 * 3600_000 } };
          }),
      }),
    );

    expect(rig!.proxy.requests[0]!.outcome, line).toBe(400);
    expect(figures.delivered, line).toBe(297);
    expect(stats.dropped.rejected, line).toBe(3);
    const stored = new Set(rig!.collector.store.allEvents().map((row) => row.insertId));
    for (const id of corrupted) expect(stored.has(id), `${id} was refused, so not stored`).toBe(false);
    const [rejected, ...more] = rig!.reported('IDSTITCH_RECORDS_REJECTED');
    expect(more).toEqual([]);
    expect(rejected!.records.map(({ index, insertId }) => ({ index, insertId }))).toEqual(
      indices.map((index, i) => ({ index, insertId: corrupted[i] })),
    );
    expect(stats.retries, 'a 400 is never retried').toBe(0);
    expectAccounted(figures, stats);
  });

  it('401 from a collector expecting another token: 300 sent, 0 delivered, 300 given up as unauthorized, reported once, never retried', async () => {
    const { figures, stats, line } = await run(() => {}, { collector: { token: 'the-right-token' } });

    expect(figures.delivered, line).toBe(0);
    expect(stats.dropped.unauthorized, line).toBe(300);
    expect(stats.retries, line).toBe(0);
    expect(stats.requests, line).toBe(3); // one per batch of 100
    expect(
      rig!.errors.map((error) => error.code),
      line,
    ).toEqual(['IDSTITCH_UNAUTHORIZED']);
    expectAccounted(figures, stats);
  });
});

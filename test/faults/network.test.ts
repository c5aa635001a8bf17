// The fault matrix, network: resets, responses that never come, a dead endpoint that comes back, one
// that does not, and a host that does not resolve. 300 events tracked through Express unless a test
// says otherwise; figures from the collector as in statuses.test.ts.
//
// The dead endpoint stays down 2 s by default and 30 s under IDSTITCH_SOAK=1.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { describeRun, expectAccounted, givenUp, startRig, type Rig } from './rig.js';

const SOAK = process.env.IDSTITCH_SOAK === '1';
const OUTAGE_MS = SOAK ? 30_000 : 2000;

let rig: Rig | undefined;

afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

async function settle(r: Rig) {
  await r.middleware.tracker.flush();
  const figures = await r.figures();
  const stats = r.stats();
  return { figures, stats, line: describeRun(figures, stats) };
}

/** A URL where nothing listens: a port bound, then released. */
async function deadUrl(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

describe('faults: connections', () => {
  it('two connection resets mid-body: 300 sent, 300 delivered, 0 duplicates', async () => {
    // Uncompressed 1 KB events, so a 100-event body spans several socket reads and the reset lands inside it.
    rig = await startRig({ tracker: { gzip: false } });
    rig.proxy.script('reset', 'reset');
    await rig.send(300, { pad: 1000 });
    const { figures, stats, line } = await settle(rig);

    const resets = rig.proxy.requests.filter((request) => request.outcome === 'reset');
    expect(resets, line).toHaveLength(2);
    for (const reset of resets) expect(reset.received, 'reset before the body ended').toBeLessThan(Number(reset.headers['content-length']));
    expect(figures.delivered, line).toBe(300);
    expect(stats.retries, line).toBe(2);
    expectAccounted(figures, stats);
  });

  it('two connections reset after the collector had ingested the batch: 300 delivered, copies stored, 0 duplicates after dedupe', async () => {
    rig = await startRig();
    rig.proxy.script({ afterForward: 'reset' }, { afterForward: 'reset' });
    await rig.send(300);
    const { figures, stats, line } = await settle(rig);

    expect(figures.delivered, line).toBe(300);
    expect(figures.stored, line).toBe(500);
    expect(figures.afterDedupe, line).toBe(300);
    expectAccounted(figures, stats);
  });
});

describe('faults: responses that never come', () => {
  it('a request left unanswered past timeoutMs 500: retried, 300 delivered, 0 duplicates', async () => {
    rig = await startRig({ tracker: { timeoutMs: 500 } });
    rig.proxy.script('hang');
    await rig.send(300);
    const { figures, stats, line } = await settle(rig);

    expect(rig.proxy.requests[0]!.outcome, line).toBe('hang');
    expect(figures.delivered, line).toBe(300);
    expect(stats.retries, line).toBe(1);
    expectAccounted(figures, stats);
  });

  it('an answer that never comes after the collector ingested the batch: 300 delivered, 100 copies stored, 0 duplicates after dedupe', async () => {
    rig = await startRig({ tracker: { timeoutMs: 500 } });
    rig.proxy.script({ afterForward: 'hang' });
    await rig.send(300);
    const { figures, stats, line } = await settle(rig);

    expect(figures.stored, line).toBe(400);
    expect(figures.delivered, line).toBe(300);
    expect(figures.afterDedupe, line).toBe(300);
    expectAccounted(figures, stats);
  });
});

describe('faults: endpoints that go away', () => {
  it(
    `a dead endpoint for ${OUTAGE_MS / 1000} s, then back: 300 sent (100 during the outage), 300 delivered, 0 duplicates, 0 given up`,
    { timeout: OUTAGE_MS + 20_000 },
    async () => {
      // Backoff capped at a quarter of the outage, with retries to spare: the budget (≥ 5 × the outage) outlasts it.
      rig = await startRig({ tracker: { minRetryDelayMs: 50, maxRetryDelayMs: OUTAGE_MS / 4, maxRetries: 25 } });
      await rig.send(100);
      await rig.middleware.tracker.flush();
      await rig.proxy.stop();
      const down = Date.now();
      await rig.send(100); // the app keeps serving; its events wait
      await sleep(OUTAGE_MS - (Date.now() - down));
      const refused = rig.stats().requests - rig.proxy.requests.length;
      await rig.proxy.start();
      await rig.send(100);
      const { figures, stats, line } = await settle(rig);

      expect(refused, `attempts refused while down (${line})`).toBeGreaterThanOrEqual(2);
      expect(figures.delivered, line).toBe(300);
      expect(givenUp(stats), line).toBe(0);
      expectAccounted(figures, stats);
    },
  );

  it('an endpoint that stays dead, maxRetries 3: 300 sent, 0 delivered, 300 given up as retries_exhausted and reported, nothing thrown', async () => {
    rig = await startRig({ apiHost: await deadUrl(), tracker: { maxRetries: 3 } });
    await rig.send(300);
    const { figures, stats, line } = await settle(rig);

    expect(figures.delivered, line).toBe(0);
    expect(stats.dropped.retries_exhausted, line).toBe(300);
    expect(stats.requests, line).toBe(3 * 4);
    expect(
      rig.reported('IDSTITCH_DELIVERY_FAILED').reduce((sum, error) => sum + error.count, 0),
      line,
    ).toBe(300);
    expectAccounted(figures, stats);
  });

  it('a dead endpoint with maxQueueSize 100: 300 sent, the 100 within the bound delivered once it is back, 200 given up as queue_full', async () => {
    // Retries to spare, so the batch held through the outage is still there when the endpoint returns.
    rig = await startRig({ tracker: { maxQueueSize: 100, maxRetries: 50 } });
    await rig.proxy.stop();
    await rig.send(300);
    const queuedWhileDown = rig.stats().queued;
    await rig.proxy.start();
    const { figures, stats, line } = await settle(rig);

    expect(queuedWhileDown, line).toBe(100);
    expect(figures.delivered, `0 lost within the queue bound (${line})`).toBe(100);
    expect(stats.dropped.queue_full, line).toBe(200);
    expect(rig.reported('IDSTITCH_QUEUE_FULL'), 'one report per overflow').toHaveLength(1);
    expectAccounted(figures, stats);
  });

  it('a host that does not resolve (DNS failure), maxRetries 2: 300 sent, 300 given up as retries_exhausted and reported, nothing thrown', async () => {
    // `.invalid` never resolves (RFC 6761 §6.4).
    rig = await startRig({ apiHost: 'http://idstitch-test.invalid', tracker: { maxRetries: 2 } });
    await rig.send(300);
    const { figures, stats, line } = await settle(rig);

    expect(stats.dropped.retries_exhausted, line).toBe(300);
    expect(stats.delivered, line).toBe(0);
    const reported = rig.reported('IDSTITCH_DELIVERY_FAILED');
    expect(
      reported.reduce((sum, error) => sum + error.count, 0),
      line,
    ).toBe(300);
    expect(reported[0]!.message, 'the reported reason names the lookup failure').toMatch(/ENOTFOUND|EAI_AGAIN|getaddrinfo/);
    expectAccounted(figures, stats);
  });
});
